import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { generateKeyPair, privateKeyFromProtobuf, privateKeyToProtobuf } from '@libp2p/crypto/keys';
import { peerIdFromPrivateKey } from '@libp2p/peer-id';
import type { AgentIdentity } from './agent.ts';

/** TEMPORARY until src/net/identity.ts lands: the node's Ed25519 key, kept in the data dir. */
export async function loadIdentity(dataDir: string): Promise<AgentIdentity> {
  const file = join(dataDir, 'node.key');
  let bytes: Uint8Array;
  try {
    bytes = await readFile(file);
  } catch {
    await mkdir(dataDir, { recursive: true, mode: 0o750 });
    bytes = privateKeyToProtobuf(await generateKeyPair('Ed25519'));
    await writeFile(file, bytes, { mode: 0o600, flag: 'wx' });
  }
  return { peerId: peerIdFromPrivateKey(privateKeyFromProtobuf(bytes)).toString() };
}
