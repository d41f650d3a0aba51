import type { Millis, PeerIdStr } from '../core/index.ts';
import { fitsIn, type Resources } from '../core/resources.ts';
import { MAX_BUCKETS, MAX_COUNT } from './codec.ts';
import { NO_LABELS, hostLabelFilter, mergeLabelFilter, sameLabelFilter, type LabelFilter } from './label-filter.ts';
import { SUMMARY_SHAPES, type CellBucket, type CellSummary, type Contact, type MemberView } from './records.ts';
import { driversToMask, canonicalDrivers } from './wire-check.ts';

/**
 * A cell's summary, computed by its reporter from the full view: free capacity of the
 * placeable hosts (alive, healthy, not draining) bucketed by zone and driver set, so a
 * router elsewhere can tell whether the cell can take a job without seeing its hosts.
 */

interface BucketAcc {
  zone: string;
  driversMask: number;
  drivers: CellBucket['drivers'];
  hosts: number;
  fits: number[];
  maxV: number;
  maxM: number;
  maxD: number;
  freeV: number;
  freeM: number;
  freeD: number;
  capV: number;
  capM: number;
  capD: number;
  labelFilter: LabelFilter;
}

export interface SummarizeInput {
  readonly cluster: string;
  readonly cell: number;
  readonly cellBits: number;
  readonly reporter: PeerIdStr;
  readonly now: Millis;
  readonly members: Iterable<MemberView>;
  readonly contacts: readonly Contact[];
}

const pos = (n: number): number => (n > 0 ? n : 0);

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
  const buckets = new Map<string, BucketAcc>();
  let members = 0;
  for (const m of input.members) {
    if (m.status !== 'alive' && m.status !== 'suspect') continue;
    members++;
    const r = m.record;
    if (m.status !== 'alive' || r.health !== 'ok' || r.draining) continue;
    const mask = driversToMask(r.drivers);
    const key = `${mask}|${r.zone}`;
    let b = buckets.get(key);
    if (!b) {
      if (buckets.size >= MAX_BUCKETS) continue; // bounded; 32 zone × driver-set pairs in one cell is already absurd
      b = {
        zone: r.zone,
        driversMask: mask,
        drivers: canonicalDrivers(r.drivers),
        hosts: 0,
        fits: SUMMARY_SHAPES.map(() => 0),
        maxV: 0,
        maxM: 0,
        maxD: 0,
        freeV: 0,
        freeM: 0,
        freeD: 0,
        capV: 0,
        capM: 0,
        capD: 0,
        labelFilter: NO_LABELS,
      };
      buckets.set(key, b);
    }
    b.hosts++;
    const f = r.free;
    for (let i = 0; i < SUMMARY_SHAPES.length; i++) if (fitsIn(SUMMARY_SHAPES[i]!, f)) b.fits[i]!++;
    const v = pos(f.vcpus);
    const mem = pos(f.memoryMiB);
    const d = pos(f.diskGiB);
    if (v > b.maxV) b.maxV = v;
    if (mem > b.maxM) b.maxM = mem;
    if (d > b.maxD) b.maxD = d;
    b.freeV += v;
    b.freeM += mem;
    b.freeD += d;
    b.capV += r.capacity.vcpus;
    b.capM += r.capacity.memoryMiB;
    b.capD += r.capacity.diskGiB;
    b.labelFilter = mergeLabelFilter(b.labelFilter, hostLabelFilter(r.labels));
  }
  const out: CellBucket[] = [];
  // Deterministic order (zone, then driver set) so equal views give byte-equal summaries.
  const keys = [...buckets.keys()].sort();
  for (const key of keys) {
    const b = buckets.get(key)!;
    out.push({
      zone: b.zone,
      drivers: b.drivers,
      hosts: Math.min(b.hosts, MAX_COUNT),
      fits: b.fits.map((n) => Math.min(n, MAX_COUNT)),
      maxFree: { vcpus: b.maxV, memoryMiB: b.maxM, diskGiB: b.maxD },
      totalFree: { vcpus: b.freeV, memoryMiB: b.freeM, diskGiB: b.freeD },
      // Capacity ≥ free on each host, but clamp anyway so the decoder's totalFree ≤ totalCapacity holds.
      totalCapacity: { vcpus: Math.max(b.capV, b.freeV), memoryMiB: Math.max(b.capM, b.freeM), diskGiB: Math.max(b.capD, b.freeD) },
      labelFilter: b.labelFilter,
    });
  }
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
