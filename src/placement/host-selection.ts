import type { Millis } from '../core/clock.ts';
import { hash32 } from '../core/hash.ts';
import type { Resources } from '../core/resources.ts';
import type { Rng } from '../core/rng.ts';
import type { PeerIdStr } from '../core/transport.ts';
import type { MemberView } from '../gossip/records.ts';
import type { PlacementDemand } from './demand.ts';
import { hostRefusal } from './feasibility.ts';
import type { RefusalTally } from './refusals.ts';
import type { ReservationOverlay } from './reservation-overlay.ts';
import { hostScore } from './scoring.ts';

export interface SelectionContext {
  readonly rng: Rng;
  readonly now: Millis;
  readonly overlay: ReservationOverlay | null;
  /** Hosts this placement already asked: they are skipped (and counted as such). */
  readonly excluded: ReadonlySet<PeerIdStr> | null;
  /** Receives one count per member: its refusal reason, or feasible. */
  readonly tally: RefusalTally;
  /**
   * Widens the candidate set to topK × 2^widen (capped at 8 × topK). An attempt raises it after
   * each rejection: a rejection means the top of everyone's stale view is contended, so the
   * retry draws from further down instead of colliding again.
   */
  readonly widen?: number;
}

/**
 * Picks a host from a full view (the own cell): every member is checked against the filters
 * (the cell is bounded, so this is O(cell), not O(cluster)), the feasible ones are scored
 * (binpack against the largest of them, see policyScore), the `topK` best-scoring are kept,
 * those within `scoreSlack` of the best are the candidates, and `choices` of them are
 * sampled at random; the best sampled one wins.
 * Sampling among the top few keeps coordinators that share a stale view from herding onto one
 * host, while staying close to the best host keeps packing tight. Equal scores are ordered by
 * a random tie-break, except binpack's empty hosts, which every coordinator orders alike by
 * peer hash (see draw): either way, identical hosts are not taken in view order.
 *
 * One selector is reused for many selections: its candidate buffers are allocated once.
 */
export class HostSelector {
  private readonly topK: number;
  private readonly maxK: number;
  private k: number;
  private readonly choices: number;
  private readonly scoreSlack: number;
  private readonly members: (MemberView | undefined)[];
  private readonly scores: number[];
  private readonly ties: number[];
  private readonly empty: boolean[];
  private binpack = false;
  private openInOrder = false;
  private readonly picked: number[] = [];
  /** Feasible members of the current selection and their free capacity (reused buffers). */
  private readonly feasible: MemberView[] = [];
  private readonly feasibleFree: Resources[] = [];
  private count = 0;
  /** The candidates the last selection drew from, best first (for tests and diagnostics). */
  readonly lastSampled: MemberView[] = [];

  constructor(opts: { topK: number; choices: number; scoreSlack?: number }) {
    this.topK = opts.topK;
    this.scoreSlack = opts.scoreSlack ?? Infinity;
    this.maxK = opts.topK * 8;
    this.k = opts.topK;
    this.choices = Math.min(opts.choices, opts.topK);
    this.members = new Array<MemberView | undefined>(this.maxK).fill(undefined);
    this.scores = new Array<number>(this.maxK).fill(0);
    this.ties = new Array<number>(this.maxK).fill(0);
    this.empty = new Array<boolean>(this.maxK).fill(false);
  }

  select(demand: PlacementDemand, members: Iterable<MemberView>, ctx: SelectionContext): MemberView | null {
    const { overlay, excluded, tally, now } = ctx;
    this.count = 0;
    this.binpack = demand.policy === 'binpack';
    // A host takes one job of an anti-affinity group: openers of one group must not share a host.
    this.openInOrder = this.binpack && demand.antiAffinity === undefined;
    this.k = Math.min(this.maxK, this.topK * 2 ** Math.min(3, Math.max(0, ctx.widen ?? 0)));
    let scaleV = 0;
    let scaleM = 0;
    let scaleD = 0;
    for (const m of members) {
      const rec = m.record;
      const peer = rec.origin;
      if (excluded !== null && excluded.has(peer)) {
        tally.add('already-tried');
        continue;
      }
      const free = overlay === null ? rec.free : overlay.freeOf(peer, rec.free, now);
      let reason = hostRefusal(demand, rec, free, m.status);
      if (reason === null && demand.antiAffinity !== undefined && overlay !== null && overlay.hasGroup(peer, demand.antiAffinity, now)) {
        reason = 'anti-affinity';
      }
      if (reason !== null) {
        tally.add(reason);
        continue;
      }
      tally.addFeasible();
      const cap = rec.capacity;
      if (cap.vcpus > scaleV) scaleV = cap.vcpus;
      if (cap.memoryMiB > scaleM) scaleM = cap.memoryMiB;
      if (cap.diskGiB > scaleD) scaleD = cap.diskGiB;
      this.feasible.push(m);
      this.feasibleFree.push(free);
    }
    // Second pass: binpack measures what a host would have left against the largest feasible host.
    const scale: Resources = { vcpus: scaleV, memoryMiB: scaleM, diskGiB: scaleD };
    for (let i = 0; i < this.feasible.length; i++) {
      const rec = this.feasible[i]!.record;
      const free = this.feasibleFree[i]!;
      const empty = free.vcpus >= rec.capacity.vcpus && free.memoryMiB >= rec.capacity.memoryMiB && free.diskGiB >= rec.capacity.diskGiB;
      // Drawn for every feasible host, so the random stream does not depend on which are empty.
      const tie = ctx.rng.next();
      this.offer(this.feasible[i]!, hostScore(demand, rec.capacity, free, rec.labels, empty, scale), this.openInOrder && empty ? openingOrder(rec.origin) : tie, empty);
    }
    this.feasible.length = 0;
    this.feasibleFree.length = 0;
    return this.draw(ctx.rng);
  }

  private offer(m: MemberView, score: number, tie: number, empty: boolean): void {
    let i = this.count;
    if (i === this.k) {
      // Full: only enter if better than the current worst.
      if (!better(score, tie, this.scores[i - 1]!, this.ties[i - 1]!)) return;
      i--;
    } else {
      this.count++;
    }
    while (i > 0 && better(score, tie, this.scores[i - 1]!, this.ties[i - 1]!)) {
      this.members[i] = this.members[i - 1];
      this.scores[i] = this.scores[i - 1]!;
      this.ties[i] = this.ties[i - 1]!;
      this.empty[i] = this.empty[i - 1]!;
      i--;
    }
    this.members[i] = m;
    this.scores[i] = score;
    this.ties[i] = tie;
    this.empty[i] = empty;
  }

  private draw(rng: Rng): MemberView | null {
    let n = this.count;
    this.lastSampled.length = 0;
    if (n === 0) return null;
    // Only near-equals of the best take part in the draw.
    const floor = this.scores[0]! - this.scoreSlack;
    while (n > 1 && this.scores[n - 1]! < floor) n--;
    // binpack never opens an empty host by chance while a used one is a candidate.
    if (this.binpack && !this.empty[0]) while (n > 1 && this.empty[n - 1]) n--;
    // And it opens one host at a time: every coordinator ranks empty hosts alike (largest first,
    // then by openingOrder) and takes the first, so concurrent openers share one new host instead
    // of each opening its own and leaving them all part-used when the load stops (1k hosts
    // filled to 80% at 250/s: 1.055 → 1.009 × best-fit). Anti-affinity groups still draw.
    // The price: openers collide on the new host at very high rates (1k at 2,500/s: retries
    // 0.63 → 0.81 per request; at 250/s 0.072 → 0.080).
    if (this.openInOrder && this.empty[0]) n = 1;
    let best: number;
    if (n <= this.choices) {
      for (let i = 0; i < n; i++) this.lastSampled.push(this.members[i]!);
      best = 0;
    } else {
      const picked = this.picked;
      picked.length = 0;
      while (picked.length < this.choices) {
        const j = rng.int(n);
        if (!picked.includes(j)) picked.push(j);
      }
      picked.sort((a, b) => a - b);
      for (const j of picked) this.lastSampled.push(this.members[j]!);
      // Candidates are sorted best first, so the lowest sampled index is the best sampled host.
      best = picked[0]!;
    }
    const chosen = this.members[best]!;
    // Drop references so the selector does not pin old records.
    for (let i = 0; i < this.count; i++) this.members[i] = undefined;
    return chosen;
  }
}

/** The order in which binpack opens equally large empty hosts: the same on every coordinator. */
function openingOrder(peer: PeerIdStr): number {
  return hash32(peer) / 2 ** 32;
}

function better(score: number, tie: number, otherScore: number, otherTie: number): boolean {
  return score > otherScore || (score === otherScore && tie > otherTie);
}
