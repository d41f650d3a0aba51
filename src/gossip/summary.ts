import type { Millis, PeerIdStr } from '../core/index.ts';
import type { Resources } from '../core/resources.ts';
import { BucketTotals } from './bucket-totals.ts';
import { MAX_BUCKETS, MAX_COUNT } from './codec.ts';
import { hostLabelFilter, sameLabelFilter } from './label-filter.ts';
import type { CellSummary, Contact, MemberView } from './records.ts';
import { driversToMask, canonicalDrivers } from './wire-check.ts';

/**
 * A cell's summary, computed by its reporter from the full view: free capacity of the
 * placeable hosts (alive, healthy, not draining) bucketed by zone and driver set, so a
 * router elsewhere can tell whether the cell can take a job without seeing its hosts.
 */

export interface SummarizeInput {
  readonly cluster: string;
  readonly cell: number;
  readonly cellBits: number;
  readonly reporter: PeerIdStr;
  readonly now: Millis;
  readonly members: Iterable<MemberView>;
  readonly contacts: readonly Contact[];
}

const restamps = new WeakMap<CellSummary, CellSummary>();

/**
 * `s` as reissued at `issuedAtMs` with the same content, which a digest named by version.
 * Cached per object, so every holder of one summary gets the same successor (the simulator
 * shares summaries among its hosts).
 */
export function restamped(s: CellSummary, issuedAtMs: Millis): CellSummary {
  const last = restamps.get(s);
  if (last !== undefined && last.issuedAtMs === issuedAtMs) return last;
  const next = { ...s, issuedAtMs };
  restamps.set(s, next);
  return next;
}

export function summarizeCell(input: SummarizeInput): CellSummary {
  const buckets = new Map<string, BucketTotals>();
  let members = 0;
  for (const m of input.members) {
    if (m.status !== 'alive' && m.status !== 'suspect') continue;
    members++;
    const r = m.record;
    if (m.status !== 'alive' || r.health !== 'ok' || r.draining) continue;
    const key = `${driversToMask(r.drivers)}|${r.zone}`;
    let b = buckets.get(key);
    if (!b) {
      if (buckets.size >= MAX_BUCKETS) continue; // bounded; 32 zone × driver-set pairs in one cell is already absurd
      b = new BucketTotals(r.zone, canonicalDrivers(r.drivers));
      buckets.set(key, b);
    }
    b.addHost(r.free, r.capacity, hostLabelFilter(r.labels));
  }
  // Deterministic order (driver set, then zone) so equal views give byte-equal summaries.
  const out = [...buckets.keys()].sort().map((key) => buckets.get(key)!.toBucket(MAX_COUNT));
  return {
    cluster: input.cluster,
    cell: input.cell,
    cellBits: input.cellBits,
    reporter: input.reporter,
    // Integer milliseconds on the wire, whatever resolution the driver's clock has.
    issuedAtMs: Math.floor(input.now),
    members: Math.min(members, MAX_COUNT),
    buckets: out,
    contacts: input.contacts,
  };
}

function countMoved(prev: number, next: number, fraction: number): boolean {
  if (prev === next) return false;
  if (prev === 0 || next === 0) return true;
  return Math.abs(next - prev) >= Math.max(1, fraction * prev);
}

function resourcesMoved(prev: Resources, next: Resources, fraction: number): boolean {
  return countMoved(prev.vcpus, next.vcpus, fraction) || countMoved(prev.memoryMiB, next.memoryMiB, fraction) || countMoved(prev.diskGiB, next.diskGiB, fraction);
}

/** Whether `next` is worth a message after `prev` was published (the storm-control filter for summaries). */
export function summaryChanged(prev: CellSummary | undefined, next: CellSummary, fraction: number): boolean {
  if (!prev) return true;
  if (prev.cellBits !== next.cellBits || prev.cell !== next.cell || countMoved(prev.members, next.members, fraction)) return true;
  if (prev.buckets.length !== next.buckets.length || prev.contacts.length !== next.contacts.length) return true;
  for (let i = 0; i < next.contacts.length; i++) if (prev.contacts[i]!.peer !== next.contacts[i]!.peer) return true;
  for (let i = 0; i < next.buckets.length; i++) {
    const a = prev.buckets[i]!;
    const b = next.buckets[i]!;
    if (a.zone !== b.zone || a.drivers !== b.drivers || a.hosts !== b.hosts) return true;
    for (let s = 0; s < b.fits.length; s++) if (countMoved(a.fits[s]!, b.fits[s]!, fraction)) return true;
    if (resourcesMoved(a.maxFree, b.maxFree, fraction)) return true;
    if (!sameLabelFilter(a.labelFilter, b.labelFilter)) return true;
  }
  return false;
}
