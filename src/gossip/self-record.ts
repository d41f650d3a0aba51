import type { PeerIdStr } from '../core/index.ts';
import { ZERO_RESOURCES, fitsIn, type Resources } from '../core/resources.ts';
import { SUMMARY_SHAPES, type HostRecord } from './records.ts';
import { EMPTY_LABELS, canonicalDrivers } from './wire-check.ts';

/** The host facts the agent feeds the node (`updateSelf`); the node decides when to publish. */
export type SelfPatch = Partial<
  Pick<HostRecord, 'zone' | 'labels' | 'drivers' | 'capacity' | 'free' | 'antiAffinityGroups' | 'jobs' | 'health' | 'draining' | 'addrs'>
>;

export function initialRecord(origin: PeerIdStr, cluster: string, incarnation: number, patch: SelfPatch): HostRecord {
  return applyPatch(
    {
      origin,
      incarnation,
      seq: 0,
      cluster,
      zone: '',
      labels: EMPTY_LABELS,
      drivers: canonicalDrivers([]),
      capacity: ZERO_RESOURCES,
      free: ZERO_RESOURCES,
      antiAffinityGroups: [],
      jobs: 0,
      health: 'ok',
      draining: false,
      addrs: [],
    },
    patch,
  );
}

export function applyPatch(r: HostRecord, p: SelfPatch): HostRecord {
  return {
    ...r,
    ...p,
    // Null-prototype labels, like decoded ones, so peers and self read them the same way.
    labels: p.labels ? Object.freeze(Object.assign(Object.create(null) as Record<string, string>, p.labels)) : r.labels,
    drivers: p.drivers ? canonicalDrivers(p.drivers) : r.drivers,
  };
}

function sameList(a: readonly string[], b: readonly string[]): boolean {
  if (a === b) return true;
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

function sameLabels(a: Readonly<Record<string, string>>, b: Readonly<Record<string, string>>): boolean {
  if (a === b) return true;
  const ka = Object.keys(a);
  if (ka.length !== Object.keys(b).length) return false;
  for (const k of ka) if (a[k] !== b[k]) return false;
  return true;
}

function sameResources(a: Resources, b: Resources): boolean {
  return a.vcpus === b.vcpus && a.memoryMiB === b.memoryMiB && a.diskGiB === b.diskGiB;
}

function axisMoved(prev: number, next: number, capacity: number, fraction: number): boolean {
  if (prev === next) return false;
  if (capacity <= 0) return true;
  return Math.abs(next - prev) >= fraction * capacity;
}

/**
 * Whether the draft differs from what peers last saw enough to publish now rather than
 * with the next heartbeat: any change of identity-like facts, or free capacity moving by
 * `fraction` of capacity on an axis, or a summary shape starting or stopping to fit.
 */
export function recordChanged(published: HostRecord, draft: HostRecord, fraction: number): boolean {
  if (
    published.zone !== draft.zone ||
    published.health !== draft.health ||
    published.draining !== draft.draining ||
    published.drivers !== draft.drivers ||
    !sameResources(published.capacity, draft.capacity) ||
    !sameLabels(published.labels, draft.labels) ||
    !sameList(published.addrs, draft.addrs) ||
    !sameList(published.antiAffinityGroups, draft.antiAffinityGroups)
  ) {
    return true;
  }
  const a = published.free;
  const b = draft.free;
  const c = draft.capacity;
  if (axisMoved(a.vcpus, b.vcpus, c.vcpus, fraction) || axisMoved(a.memoryMiB, b.memoryMiB, c.memoryMiB, fraction) || axisMoved(a.diskGiB, b.diskGiB, c.diskGiB, fraction)) {
    return true;
  }
  for (const shape of SUMMARY_SHAPES) if (fitsIn(shape, a) !== fitsIn(shape, b)) return true;
  return false;
}

/** Whether anything at all differs (a heartbeat of an unchanged record still goes out, with a new seq). */
export function recordDiffers(published: HostRecord, draft: HostRecord): boolean {
  return published.jobs !== draft.jobs || !sameResources(published.free, draft.free) || recordChanged(published, draft, 0);
}

/**
 * Whether the draft advertises significantly LESS than the published record: a standard shape
 * stopped fitting, or an axis of free capacity fell by `fraction` of its capacity. Peers routing
 * on the published record would be turned down, or would pack a host that is no longer there,
 * so this news is not held back by the topic's pacer (it is charged, as a debt). It is bounded
 * without the pacer: a host going from empty to full produces at most 1/fraction such changes
 * per axis plus one per shape, and must gain room (paced news) before it can shrink again.
 */
export function recordShrank(published: HostRecord, draft: HostRecord, fraction: number): boolean {
  const a = published.free;
  const b = draft.free;
  const c = draft.capacity;
  if (a.vcpus - b.vcpus >= fraction * c.vcpus && b.vcpus < a.vcpus) return true;
  if (a.memoryMiB - b.memoryMiB >= fraction * c.memoryMiB && b.memoryMiB < a.memoryMiB) return true;
  if (a.diskGiB - b.diskGiB >= fraction * c.diskGiB && b.diskGiB < a.diskGiB) return true;
  for (const shape of SUMMARY_SHAPES) if (fitsIn(shape, a) && !fitsIn(shape, b)) return true;
  return false;
}
