import type { Millis } from '../core/clock.ts';
import { MAX_CELL_BITS } from './topics.ts';

/**
 * How many hash bits make a cell. cellBits follows the estimated cluster size so the mean
 * cell holds about `targetCellSize` hosts, one bit at a time, with hysteresis and a dwell
 * time so membership stays put while hosts come and go.
 */

/** A merge by estimate waits this many dwell times since the last change (a split waits one). */
const MERGE_DWELL_FACTOR = 3;
/** Relative error of one node's size estimate that a layout decision should tolerate. */
const ESTIMATE_MARGIN = 0.05;

/** The cellBits a node starts with from a size estimate (the operator's hint at first). */
export function initialCellBits(estimate: number, targetCellSize: number): number {
  if (!(estimate > targetCellSize)) return 0;
  const bits = Math.round(Math.log2(estimate / targetCellSize));
  return bits < 0 ? 0 : bits > MAX_CELL_BITS ? MAX_CELL_BITS : bits;
}

/**
 * One step of the hysteresis: split when the mean cell exceeds target × (1 + h), merge
 * when it falls below target × (1 − h), otherwise stay. With h > 1/3 a split lands above
 * the merge threshold and a merge below the split threshold, so neither undoes itself.
 */
export function nextCellBits(current: number, estimate: number, targetCellSize: number, hysteresis: number): number {
  const mean = estimate / 2 ** current;
  if (mean > targetCellSize * (1 + hysteresis) && current < MAX_CELL_BITS) return current + 1;
  if (mean < targetCellSize * (1 - hysteresis) && current > 0) return current - 1;
  return current;
}

/**
 * Linear counting (Whang et al. 1990): the number of distinct hashes that leave `occupied`
 * of `slots` buckets non-empty. Used when too few summaries are known to extrapolate, e.g.
 * 10 hosts started with a hint of 100,000: they sit in 10 of 2048 cells, and a plain
 * extrapolation of "10 members over 10/2048 of the hash space" would say 2048.
 */
export function linearCount(occupied: number, slots: number): number {
  if (occupied <= 0) return 0;
  if (occupied >= slots) return slots * Math.log(slots); // saturated: a lower bound
  return slots * Math.log(slots / (slots - occupied));
}

/** What the summary store knows, enough to estimate the cluster size. */
export interface SizeEvidence {
  /** Sum of `members` over the known summaries. */
  readonly members: number;
  /** Fraction of the hash space those summaries cover (Σ 2^−cellBits). */
  readonly coverage: number;
  /** Known non-empty cells at the current cellBits. */
  readonly occupiedCells: number;
}

export function estimateClusterSize(ev: SizeEvidence, cellBits: number, minCoverage: number, hint: number, warm: boolean): number {
  if (ev.coverage >= minCoverage) return ev.members / ev.coverage;
  // Not enough coverage to extrapolate: trust the hint until the node has had time to hear
  // the summaries that exist; after that, few summaries mean few hosts.
  if (!warm) return Math.max(hint, ev.members);
  return Math.max(ev.members, linearCount(ev.occupiedCells, 2 ** cellBits));
}

export interface CellBitsDecision {
  readonly bits: number;
  readonly reason: 'fixed' | 'estimate' | 'follow' | 'join';
}

/**
 * Holds a node's cellBits and decides changes: by its own estimate (at most one bit per
 * dwell), or by following the cluster when summaries covering more than half of the hash
 * space already use another cellBits (so early and late switchers meet again quickly).
 */
export class CellBitsController {
  private current: number;
  private changedAtMs: Millis;
  private readonly fixed: boolean;
  private readonly targetCellSize: number;
  private readonly hysteresis: number;
  private readonly dwellMs: number;

  constructor(
    opts: { cellBits: number | null; expectedClusterSize: number; targetCellSize: number; cellSizeHysteresis: number; cellBitsDwellMs: number },
    now: Millis,
  ) {
    this.fixed = opts.cellBits !== null;
    this.current = opts.cellBits ?? initialCellBits(opts.expectedClusterSize, opts.targetCellSize);
    this.targetCellSize = opts.targetCellSize;
    this.hysteresis = opts.cellSizeHysteresis;
    this.dwellMs = opts.cellBitsDwellMs;
    this.changedAtMs = now;
  }

  get bits(): number {
    return this.current;
  }

  get isFixed(): boolean {
    return this.fixed;
  }

  /**
   * The new cellBits if it should change now, else null. `majorityBits` is the cellBits
   * used by summaries covering more than half the hash space (or -1 when none does);
   * `trusted` says whether the estimate rests on enough summaries.
   *
   * Following the majority is what keeps the cluster in one layout, but a node only
   * follows towards where its own estimate points, or to a layout its estimate finds
   * stable: otherwise the first nodes to split would be pulled back by the majority they
   * are ahead of, while the majority moves forward, and the cluster would flap. "Stable"
   * must hold with a margin for estimate error (ESTIMATE_MARGIN): near a threshold, nodes
   * whose estimates differed by 1% split and were pulled straight back, and a 20% join wave
   * split and merged a 1k cluster's cells twice in 15 s.
   */
  decide(now: Millis, estimate: number, majorityBits: number, trusted = true): CellBitsDecision | null {
    if (this.fixed) return null;
    if (majorityBits >= 0 && majorityBits !== this.current) {
      const desired = this.desired(estimate);
      const towards = (majorityBits - this.current) * (desired - this.current) > 0 && Math.abs(majorityBits - this.current) <= Math.abs(desired - this.current);
      const stableAt = (e: number): boolean => nextCellBits(majorityBits, e, this.targetCellSize, this.hysteresis) === majorityBits;
      const stable = stableAt(estimate * (1 - ESTIMATE_MARGIN)) && stableAt(estimate * (1 + ESTIMATE_MARGIN));
      if (!trusted || towards || stable) {
        const step = majorityBits > this.current ? this.current + 1 : this.current - 1;
        return this.set(step, now, 'follow');
      }
    }
    const since = now - this.changedAtMs;
    if (since < this.dwellMs) return null;
    const next = nextCellBits(this.current, estimate, this.targetCellSize, this.hysteresis);
    if (next === this.current) return null;
    // Merging is never urgent (small cells cost a little more per host), and the hosts that
    // made the estimate shrink may only be cut off: a 60-s partition merged one side's cells,
    // and after the heal the two layouts competed for a minute or more.
    if (next < this.current && since < MERGE_DWELL_FACTOR * this.dwellMs) return null;
    return this.set(next, now, 'estimate');
  }

  /** Where repeated steps from the current cellBits would settle for this estimate. */
  private desired(estimate: number): number {
    let b = this.current;
    for (let i = 0; i <= MAX_CELL_BITS; i++) {
      const n = nextCellBits(b, estimate, this.targetCellSize, this.hysteresis);
      if (n === b) break;
      b = n;
    }
    return b;
  }

  /** Restarts the dwell clock (the node starts, or joins a cluster). */
  reset(now: Millis): void {
    this.changedAtMs = now;
  }

  /**
   * A joiner's layout is the cluster's, not a change of its own: the dwell does not hold its
   * next step by estimate (a merge still waits its longer dwell). Held, the newcomers of a
   * join wave that took the cluster over the split threshold stayed in the old layout while
   * everyone split, and their reporters' newer summaries of it replaced the new layout's in
   * every store: no majority left to follow, and views broken until their dwell ran out.
   */
  joined(now: Millis): void {
    this.changedAtMs = Math.min(this.changedAtMs, now - this.dwellMs);
  }

  /** A joining node takes the cellBits of the cluster it joins (unless fixed). */
  adopt(bits: number, now: Millis): CellBitsDecision | null {
    if (this.fixed || bits === this.current) return null;
    return this.set(bits, now, 'join');
  }

  private set(bits: number, now: Millis, reason: CellBitsDecision['reason']): CellBitsDecision {
    this.current = bits;
    this.changedAtMs = now;
    return { bits, reason };
  }
}
