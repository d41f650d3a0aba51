import { driverRunsKind, type DriverName } from '../core/job.ts';
import type { Resources } from '../core/resources.ts';
import type { HostRecord, MemberStatus } from '../gossip/records.ts';
import type { PlacementDemand } from './demand.ts';

/**
 * Feasibility filters. Each host is refused for exactly one reason, the first that applies,
 * so the reasons of a refused placement add up to the hosts checked. Constraint mismatches
 * come first (they never change), then host state, then anti-affinity, then capacity.
 */
export const REFUSAL_REASONS = [
  'already-tried',
  'other-cluster',
  'other-zone',
  'no-driver',
  'missing-label',
  'not-alive',
  'unhealthy',
  'draining',
  'anti-affinity',
  'short-vcpus',
  'short-memory',
  'short-disk',
  /** From summaries: some axis is short but the summary cannot tell which. */
  'short-capacity',
] as const;

export type RefusalReason = (typeof REFUSAL_REASONS)[number];

export const REASON_INDEX: Readonly<Record<RefusalReason, number>> = Object.freeze(
  Object.fromEntries(REFUSAL_REASONS.map((r, i) => [r, i])) as Record<RefusalReason, number>,
);

/** The host fields the filters read; a HostRecord has them all, and so does a HostLedger's profile. */
export type PlaceableHost = Pick<HostRecord, 'cluster' | 'zone' | 'labels' | 'drivers' | 'antiAffinityGroups' | 'health' | 'draining'>;

/** The driver a host would run the job with: the pinned one, else the first real one, else `fake`. */
export function pickDriver(demand: Pick<PlacementDemand, 'kind' | 'driver'>, drivers: readonly DriverName[]): DriverName | undefined {
  if (demand.driver !== undefined) return drivers.includes(demand.driver) ? demand.driver : undefined;
  let fallback: DriverName | undefined;
  for (const d of drivers) {
    if (!driverRunsKind(d, demand.kind)) continue;
    if (d !== 'fake') return d;
    fallback = d;
  }
  return fallback;
}

function runsDemand(demand: PlacementDemand, drivers: readonly DriverName[]): boolean {
  if (demand.driver !== undefined) return drivers.includes(demand.driver);
  for (const d of drivers) if (driverRunsKind(d, demand.kind)) return true;
  return false;
}

/** Cluster, zone, driver and labels: the parts of a host that do not change between gossip rounds. */
export function constraintRefusal(demand: PlacementDemand, host: PlaceableHost): RefusalReason | null {
  if (demand.cluster !== undefined && host.cluster !== demand.cluster) return 'other-cluster';
  if (demand.zone !== undefined && host.zone !== demand.zone) return 'other-zone';
  if (!runsDemand(demand, host.drivers)) return 'no-driver';
  const keys = demand.hostLabelKeys;
  for (let i = 0; i < keys.length; i++) {
    if (host.labels[keys[i]!] !== demand.hostLabelValues[i]) return 'missing-label';
  }
  return null;
}

export function resourceRefusal(want: Resources, free: Resources): RefusalReason | null {
  if (want.memoryMiB > free.memoryMiB) return 'short-memory';
  if (want.vcpus > free.vcpus) return 'short-vcpus';
  if (want.diskGiB > free.diskGiB) return 'short-disk';
  return null;
}

/**
 * Why `host` cannot take the job, or null when it can. `free` defaults to the host's
 * advertised free capacity; a coordinator passes its fresher overlay value instead.
 */
export function hostRefusal(
  demand: PlacementDemand,
  host: PlaceableHost,
  free: Resources,
  status: MemberStatus = 'alive',
): RefusalReason | null {
  const constraint = constraintRefusal(demand, host);
  if (constraint !== null) return constraint;
  if (status !== 'alive') return 'not-alive';
  if (host.health !== 'ok') return 'unhealthy';
  if (host.draining) return 'draining';
  if (demand.antiAffinity !== undefined && host.antiAffinityGroups.includes(demand.antiAffinity)) return 'anti-affinity';
  return resourceRefusal(demand.resources, free);
}
