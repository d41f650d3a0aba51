import type { Resources } from '../../src/core/index.ts';
import { bestFitPack } from '../../src/placement/index.ts';
import type { PlacementAudit } from '../run/host-model.ts';

export interface BestFitBaselineResult {
  /** Hosts a central omniscient best-fit placer needs for the same jobs, in the same order. */
  readonly hostsUsed: number;
  /** Same, best-fit decreasing (sorted jobs): the offline packing limit. */
  readonly hostsUsedDecreasing: number;
  readonly jobs: number;
  readonly unplaced: number;
}

/**
 * The packing baseline: the jobs Shoal's hosts ended up holding, packed onto the same hosts by
 * the placement engineer's `bestFitPack` (src/placement/best-fit.ts) — one scheduler that sees
 * every host exactly. Shoal's hosts-used divided by this is the packing ratio (target ≤ 1.05).
 */
export function bestFitBaseline(audit: PlacementAudit): BestFitBaselineResult {
  const hosts: Resources[] = [];
  for (const c of audit.capacity) if (c !== null) hosts.push(c);
  const online = bestFitPack(hosts, audit.jobs, { order: 'arrival' });
  const offline = bestFitPack(hosts, audit.jobs, { order: 'decreasing' });
  return { hostsUsed: online.hostsUsed, hostsUsedDecreasing: offline.hostsUsed, jobs: audit.jobs.length, unplaced: online.unplaced };
}
