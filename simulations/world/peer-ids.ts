import type { PeerIdStr, Rng } from '../../src/core/index.ts';

const BASE58 = '123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz';

/**
 * Synthetic peer ids shaped like libp2p Ed25519 ids (`12D3KooW` + 44 base58 characters, 52 in
 * all), so that messages carrying them have realistic sizes and cell hashes see realistic
 * strings. Deterministic from the rng; duplicates are redrawn.
 */
export function makePeerIds(count: number, rng: Rng): PeerIdStr[] {
  const out: PeerIdStr[] = [];
  const seen = new Set<string>();
  while (out.length < count) {
    let s = '12D3KooW';
    for (let i = 0; i < 44; i++) s += BASE58[rng.int(58)];
    if (seen.has(s)) continue;
    seen.add(s);
    out.push(s);
  }
  return out;
}
