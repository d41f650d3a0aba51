/**
 * Stable, non-cryptographic hashes. Cells are chosen from hash bits of a peer id, so every
 * agent and the simulator must compute the same value on every platform.
 */

/** 32-bit FNV-1a over the UTF-16 code units of `s`, finished with a murmur3 mix for better high bits. */
export function hash32(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return mix32(h);
}

/** murmur3's finaliser: a bijection on 32 bits with full avalanche. */
export function mix32(x: number): number {
  let h = x >>> 0;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** The first `bits` bits of `hash32(s)`, as an integer in [0, 2^bits). */
export function hashPrefix(s: string, bits: number): number {
  if (bits <= 0) return 0;
  return hash32(s) >>> (32 - bits);
}
