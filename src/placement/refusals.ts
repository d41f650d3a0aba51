import type { Resources } from '../core/resources.ts';
import type { PlacementDemand } from './demand.ts';
import { REASON_INDEX, REFUSAL_REASONS, type RefusalReason } from './feasibility.ts';

/**
 * Counts why hosts were refused, so a failed placement can say exactly why:
 * "no host with 64 GiB memory free in zone b (37 hosts checked: 30 short of memory, 7 draining)".
 * Fixed-size counters: adding is allocation-free.
 */
export class RefusalTally {
  readonly counts: number[] = new Array<number>(REFUSAL_REASONS.length).fill(0);
  /** Hosts looked at, feasible ones included. */
  checked = 0;
  /** Cells skipped because their summary was too old to trust. */
  staleCells = 0;

  add(reason: RefusalReason, n = 1): void {
    this.counts[REASON_INDEX[reason]]! += n;
    this.checked += n;
  }

  addFeasible(n = 1): void {
    this.checked += n;
  }

  count(reason: RefusalReason): number {
    return this.counts[REASON_INDEX[reason]]!;
  }

  refused(): number {
    let n = 0;
    for (const c of this.counts) n += c;
    return n;
  }

  reset(): void {
    this.counts.fill(0);
    this.checked = 0;
    this.staleCells = 0;
  }

  merge(other: RefusalTally, sign: 1 | -1 = 1): void {
    for (let i = 0; i < this.counts.length; i++) this.counts[i] = Math.max(0, this.counts[i]! + sign * other.counts[i]!);
    this.checked = Math.max(0, this.checked + sign * other.checked);
    this.staleCells = Math.max(0, this.staleCells + sign * other.staleCells);
  }

  copyFrom(other: RefusalTally): void {
    for (let i = 0; i < this.counts.length; i++) this.counts[i] = other.counts[i]!;
    this.checked = other.checked;
    this.staleCells = other.staleCells;
  }

  /** Non-zero counts only, in reason order: the wire and API form. */
  toRecord(): Partial<Record<RefusalReason, number>> {
    const out: Partial<Record<RefusalReason, number>> = {};
    for (let i = 0; i < REFUSAL_REASONS.length; i++) if (this.counts[i]! > 0) out[REFUSAL_REASONS[i]!] = this.counts[i]!;
    return out;
  }

  static fromRecord(reasons: Partial<Record<RefusalReason, number>>, checked: number, staleCells = 0): RefusalTally {
    const t = new RefusalTally();
    for (const r of REFUSAL_REASONS) {
      const n = reasons[r];
      if (n !== undefined) t.counts[REASON_INDEX[r]] = n;
    }
    t.checked = Math.max(checked, t.refused());
    t.staleCells = staleCells;
    return t;
  }
}

const REASON_TEXT: Readonly<Record<RefusalReason, string>> = {
  'already-tried': 'already asked',
  'other-cluster': 'in another cluster',
  'other-zone': 'in another zone',
  'no-driver': 'without a suitable driver',
  'missing-label': 'without the required labels',
  'not-alive': 'not alive',
  unhealthy: 'degraded',
  draining: 'draining',
  'anti-affinity': 'already running the anti-affinity group',
  'short-vcpus': 'short of vCPUs',
  'short-memory': 'short of memory',
  'short-disk': 'short of disk',
  'short-capacity': 'short of capacity',
};

export function reasonText(reason: RefusalReason): string {
  return REASON_TEXT[reason];
}

/** 37, 1,234, 12,345,678: fixed grouping, independent of the locale. */
export function formatCount(n: number): string {
  const s = String(Math.trunc(n));
  return s.replace(/\B(?=(\d{3})+(?!\d))/g, ',');
}

export function formatResources(r: Resources): string {
  const parts = [`${r.vcpus} vCPU${r.vcpus === 1 ? '' : 's'}`];
  parts.push(r.memoryMiB % 1024 === 0 ? `${r.memoryMiB / 1024} GiB memory` : `${r.memoryMiB} MiB memory`);
  if (r.diskGiB > 0) parts.push(`${r.diskGiB} GiB disk`);
  return parts.join(', ');
}

function breakdown(t: RefusalTally): string {
  const order: number[] = [];
  for (let i = 0; i < t.counts.length; i++) if (t.counts[i]! > 0) order.push(i);
  order.sort((a, b) => t.counts[b]! - t.counts[a]! || a - b);
  return order.map((i) => `${formatCount(t.counts[i]!)} ${REASON_TEXT[REFUSAL_REASONS[i]!]}`).join(', ');
}

/** The constraints of a job as a phrase: "with 4 vCPUs, 64 GiB memory free in zone b with label energy=hydro". */
export function describeDemand(demand: PlacementDemand): string {
  let s = `with ${formatResources(demand.resources)} free`;
  if (demand.cluster !== undefined) s += ` in cluster ${demand.cluster}`;
  if (demand.zone !== undefined) s += ` in zone ${demand.zone}`;
  if (demand.hostLabelPairs.length > 0) s += ` with label${demand.hostLabelPairs.length > 1 ? 's' : ''} ${demand.hostLabelPairs.join(', ')}`;
  if (demand.driver !== undefined) s += ` running driver ${demand.driver}`;
  if (demand.antiAffinity !== undefined) s += ` outside anti-affinity group ${demand.antiAffinity}`;
  return s;
}

/**
 * One message for a refused placement: what was asked, how many hosts were checked and why
 * each was refused, and which hosts refused on admission (their view beat ours).
 */
export function describeRefusal(demand: PlacementDemand, tally: RefusalTally, rejections: RefusalTally | null, note?: string): string {
  let s = `no host ${describeDemand(demand)} (${formatCount(tally.checked)} host${tally.checked === 1 ? '' : 's'} checked`;
  const b = breakdown(tally);
  if (b) s += `: ${b}`;
  s += ')';
  if (rejections !== null && rejections.checked > 0) {
    s += `; ${formatCount(rejections.checked)} refused on admission`;
    const rb = breakdown(rejections);
    if (rb) s += ` (${rb})`;
  }
  if (tally.staleCells > 0) s += `; ${formatCount(tally.staleCells)} cell${tally.staleCells === 1 ? '' : 's'} skipped with stale summaries`;
  if (note) s += `; ${note}`;
  return s;
}
