import { randomBytes } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import { NetError, NetErrorCode } from './errors.ts';

/**
 * The private-network key in the standard swarm.key text format shared with go-ipfs and
 * `@libp2p/pnet`:
 *
 *     /key/swarm/psk/1.0.0/
 *     /base16/
 *     <64 hex characters>
 *
 * `preSharedKey({ psk })` takes the whole text, so `readSwarmKeyFile` returns it normalised.
 */

export const SWARM_KEY_HEADER = '/key/swarm/psk/1.0.0/';
export const SWARM_KEY_CODEC = '/base16/';
/** pnet uses XSalsa20, whose key is 32 bytes. */
export const SWARM_KEY_BYTES = 32;
/** A key file is three short lines; anything much larger is not a key file. */
const MAX_SWARM_KEY_FILE_BYTES = 1024;

export type SwarmKeyProblem = 'too_large' | 'header' | 'codec' | 'length' | 'hex' | 'trailing' | 'weak' | 'unreadable';

function invalid(reason: SwarmKeyProblem, message: string, details: Record<string, unknown> = {}, cause?: unknown): NetError {
  return new NetError(NetErrorCode.swarmKeyInvalid, message, { reason, ...details }, cause === undefined ? undefined : { cause });
}

/** The file text for a 32-byte key. */
export function formatSwarmKey(key: Uint8Array): Uint8Array {
  if (key.length !== SWARM_KEY_BYTES) {
    throw invalid('length', `a swarm key is ${SWARM_KEY_BYTES} bytes, got ${key.length}`, { bytes: key.length });
  }
  return new TextEncoder().encode(`${SWARM_KEY_HEADER}\n${SWARM_KEY_CODEC}\n${Buffer.from(key).toString('hex')}\n`);
}

/** A fresh random key, in file format. */
export function generateSwarmKey(): Uint8Array {
  return formatSwarmKey(randomBytes(SWARM_KEY_BYTES));
}

/**
 * Parses key file text and returns the raw 32 key bytes. Precise about what is wrong,
 * because an operator pasting a key by hand gets it wrong in predictable ways.
 */
export function parseSwarmKey(text: Uint8Array | string): Uint8Array {
  const size = typeof text === 'string' ? Buffer.byteLength(text) : text.length;
  if (size > MAX_SWARM_KEY_FILE_BYTES) {
    throw invalid('too_large', `swarm key file is ${size} bytes; a key file is under ${MAX_SWARM_KEY_FILE_BYTES}`, { bytes: size });
  }
  const str = typeof text === 'string' ? text : new TextDecoder('utf-8', { fatal: false }).decode(text);
  const lines = str.split(/\r\n|\r|\n/);
  // Tolerate trailing blank lines (editors add them), nothing else.
  while (lines.length > 0 && lines[lines.length - 1]!.trim() === '') lines.pop();
  const [header, codec, hex, ...rest] = lines.map((l) => l.trim());
  if (header !== SWARM_KEY_HEADER) {
    throw invalid('header', `swarm key must start with "${SWARM_KEY_HEADER}", found ${JSON.stringify((header ?? '').slice(0, 40))}`);
  }
  if (codec !== SWARM_KEY_CODEC) {
    throw invalid('codec', `swarm key encoding must be "${SWARM_KEY_CODEC}" (the only one pnet reads), found ${JSON.stringify((codec ?? '').slice(0, 40))}`);
  }
  if (hex === undefined || hex.length !== SWARM_KEY_BYTES * 2) {
    throw invalid('length', `swarm key must be ${SWARM_KEY_BYTES * 2} hex characters, found ${hex?.length ?? 0}`, { chars: hex?.length ?? 0 });
  }
  if (!/^[0-9a-fA-F]+$/.test(hex)) {
    throw invalid('hex', 'swarm key contains characters other than 0-9 a-f');
  }
  if (rest.length > 0) {
    throw invalid('trailing', `swarm key has ${rest.length} unexpected line(s) after the key`);
  }
  const key = Uint8Array.from(Buffer.from(hex, 'hex'));
  if (key.every((b) => b === key[0])) {
    // A constant key (all zeros from a template) protects nothing.
    throw invalid('weak', 'swarm key is a single repeated byte; generate one with `shoal keygen`');
  }
  return key;
}

/**
 * Reads and validates a key file; returns the normalised file text that
 * `preSharedKey({ psk })` expects.
 */
export async function readSwarmKeyFile(path: string): Promise<Uint8Array> {
  let text: Uint8Array;
  try {
    text = await readFile(path);
  } catch (err) {
    throw invalid('unreadable', `cannot read swarm key file ${path}: ${(err as Error).message}`, { path }, err);
  }
  try {
    return formatSwarmKey(parseSwarmKey(text));
  } catch (err) {
    if (err instanceof NetError) {
      throw new NetError(err.code, `${path}: ${err.message}`, { ...err.details, path });
    }
    throw err;
  }
}

/** Writes a new random key file, mode 0600; never overwrites an existing file. Returns the file text. */
export async function writeSwarmKeyFile(path: string): Promise<Uint8Array> {
  const text = generateSwarmKey();
  try {
    await writeFile(path, text, { mode: 0o600, flag: 'wx' });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') {
      throw new NetError(NetErrorCode.swarmKeyExists, `swarm key file ${path} already exists; refusing to overwrite it`, { path });
    }
    throw new NetError(NetErrorCode.keyFileIo, `cannot write swarm key file ${path}: ${(err as Error).message}`, { path }, { cause: err });
  }
  return text;
}
