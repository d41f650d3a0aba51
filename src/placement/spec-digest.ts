import { hash32 } from '../core/hash.ts';
import { canonicalJson, type JobSpec } from '../core/job.ts';

/**
 * A pure 64-bit digest of the canonical spec (two independent 32-bit hashes), for the
 * simulator and tests. The agent injects its own (SHA-256, `specDigest` in src/agent) so that
 * digests match its stored job records; every node of one cluster must use the same function.
 */
export function placementSpecDigest(spec: JobSpec): string {
  const json = canonicalJson(spec);
  return hex8(hash32(json)) + hex8(hash32(`\u0001${json}`));
}

function hex8(n: number): string {
  return n.toString(16).padStart(8, '0');
}
