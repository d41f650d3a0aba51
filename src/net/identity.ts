import { generateKeyPair, privateKeyFromProtobuf, privateKeyToProtobuf } from '@libp2p/crypto/keys';
import { peerIdFromPrivateKey } from '@libp2p/peer-id';
import type { PrivateKey } from '@libp2p/interface';
import { mkdir, open, rename, stat, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { NetError, NetErrorCode } from './errors.ts';

/**
 * The node's long-lived Ed25519 key. Its peer id names the host in every record, so it must
 * survive restarts: a new id would look like a new host and leave the old one to be
 * declared failed.
 */

export const IDENTITY_FILE_NAME = 'identity.key';
/** A protobuf-marshalled Ed25519 key is 68 bytes; anything much bigger is not one. */
const MAX_IDENTITY_FILE_BYTES = 4096;

export interface Identity {
  readonly privateKey: PrivateKey;
  readonly peerId: string;
  /** True when this call generated the key (first start of this data dir). */
  readonly created: boolean;
  readonly path: string;
}

/** Loads `<dataDir>/identity.key`, or creates it (mode 0600) if absent. */
export async function loadOrCreateIdentity(dataDir: string): Promise<Identity> {
  const path = join(dataDir, IDENTITY_FILE_NAME);
  const existing = await readIdentityFile(path);
  if (existing !== null) return { privateKey: existing, peerId: peerIdFromPrivateKey(existing).toString(), created: false, path };

  await mkdir(dataDir, { recursive: true, mode: 0o700 }).catch((err: unknown) => {
    throw new NetError(NetErrorCode.keyFileIo, `cannot create data dir ${dataDir}: ${(err as Error).message}`, { path: dataDir }, { cause: err });
  });
  const key = await generateKeyPair('Ed25519');
  const tmp = `${path}.${process.pid}.tmp`;
  try {
    // Write-then-rename: a crash never leaves a half-written key that would fail to load.
    const fh = await open(tmp, 'wx', 0o600);
    try {
      await fh.writeFile(privateKeyToProtobuf(key));
      await fh.sync();
    } finally {
      await fh.close();
    }
    await rename(tmp, path);
  } catch (err) {
    await unlink(tmp).catch(() => undefined);
    throw new NetError(NetErrorCode.keyFileIo, `cannot write identity key ${path}: ${(err as Error).message}`, { path }, { cause: err });
  }
  return { privateKey: key, peerId: peerIdFromPrivateKey(key).toString(), created: true, path };
}

/** The key in `path`, or null if the file does not exist. */
export async function readIdentityFile(path: string): Promise<PrivateKey | null> {
  let mode: number;
  let size: number;
  try {
    const st = await stat(path);
    mode = st.mode;
    size = st.size;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw new NetError(NetErrorCode.keyFileIo, `cannot stat identity key ${path}: ${(err as Error).message}`, { path }, { cause: err });
  }
  if ((mode & 0o077) !== 0) {
    // Like ssh: a private key others can read is compromised, so refuse rather than use it.
    throw new NetError(
      NetErrorCode.identityPermissions,
      `identity key ${path} has mode ${(mode & 0o777).toString(8)}; it must not be readable by group or others (chmod 600)`,
      { path, mode: mode & 0o777 },
    );
  }
  if (size > MAX_IDENTITY_FILE_BYTES) {
    throw new NetError(NetErrorCode.identityCorrupt, `identity key ${path} is ${size} bytes; not a key file`, { path, bytes: size });
  }
  let bytes: Uint8Array;
  try {
    const fh = await open(path, 'r');
    try {
      bytes = await fh.readFile();
    } finally {
      await fh.close();
    }
  } catch (err) {
    throw new NetError(NetErrorCode.keyFileIo, `cannot read identity key ${path}: ${(err as Error).message}`, { path }, { cause: err });
  }
  let key: PrivateKey;
  try {
    key = privateKeyFromProtobuf(bytes);
  } catch (err) {
    throw new NetError(NetErrorCode.identityCorrupt, `identity key ${path} does not decode: ${(err as Error).message}`, { path }, { cause: err });
  }
  if (key.type !== 'Ed25519') {
    throw new NetError(NetErrorCode.identityCorrupt, `identity key ${path} is ${key.type}; Shoal uses Ed25519`, { path, keyType: key.type });
  }
  return key;
}
