import type { DriverName, JobKind, JobSpec } from '../core/job.ts';
import type { Resources } from '../core/resources.ts';
import { labelProbe } from '../gossip/label-filter.ts';
import { SUMMARY_SHAPES } from '../gossip/records.ts';

export interface Preference {
  readonly label: string;
  readonly value?: string | undefined;
  readonly weight: number;
}

/**
 * What placement needs from a job spec, computed once per request so that the per-host
 * checks are plain field comparisons with no allocation.
 */
export interface PlacementDemand {
  readonly resources: Resources;
  readonly kind: JobKind;
  /** The pinned driver, if any. */
  readonly driver: DriverName | undefined;
  readonly zone: string | undefined;
  readonly cluster: string | undefined;
  readonly hostLabelKeys: readonly string[];
  readonly hostLabelValues: readonly string[];
  /** The same labels as `key=value`, as refusals name them. */
  readonly hostLabelPairs: readonly string[];
  /** The same labels as probes of a bucket's label filter. */
  readonly hostLabelProbes: readonly number[];
  /** Tenant-scoped anti-affinity token (see `antiAffinityToken`), or undefined. */
  readonly antiAffinity: string | undefined;
  readonly policy: 'binpack' | 'spread';
  readonly preferences: readonly Preference[];
  /** Index of the smallest SUMMARY_SHAPES entry covering the job, or -1 when it is larger than all. */
  readonly shapeIndex: number;
}

/**
 * Anti-affinity groups are per tenant: two tenants' "db" groups are unrelated. Hosts list
 * these tokens in `HostRecord.antiAffinityGroups` (HostLedger.antiAffinityGroups() gives them).
 */
export function antiAffinityToken(tenant: string, group: string): string {
  return `${tenant}/${group}`;
}

export function shapeIndexFor(want: Resources): number {
  for (let i = 0; i < SUMMARY_SHAPES.length; i++) {
    const s = SUMMARY_SHAPES[i]!;
    if (want.vcpus <= s.vcpus && want.memoryMiB <= s.memoryMiB && want.diskGiB <= s.diskGiB) return i;
  }
  return -1;
}

export function demandOf(spec: JobSpec): PlacementDemand {
  const keys: string[] = [];
  const values: string[] = [];
  const pairs: string[] = [];
  const probes: number[] = [];
  for (const [k, v] of Object.entries(spec.constraints.hostLabels)) {
    keys.push(k);
    values.push(v);
    pairs.push(`${k}=${v}`);
    probes.push(labelProbe(`${k}=${v}`));
  }
  return {
    resources: spec.resources,
    kind: spec.kind,
    driver: spec.driver,
    zone: spec.constraints.zone,
    cluster: spec.constraints.cluster,
    hostLabelKeys: keys,
    hostLabelValues: values,
    hostLabelPairs: pairs,
    hostLabelProbes: probes,
    antiAffinity: spec.antiAffinityGroup === undefined ? undefined : antiAffinityToken(spec.tenant, spec.antiAffinityGroup),
    policy: spec.policy,
    preferences: spec.preferences,
    shapeIndex: shapeIndexFor(spec.resources),
  };
}
