import type { Millis } from '../core/clock.ts';
import { wireSize, type Encoded } from '../core/protocol.ts';
import type { PeerIdStr } from '../core/transport.ts';
import { MAX_ANNOUNCED_PER_MESSAGE, encodeAccuse, encodeEvents, encodeRecord } from './codec.ts';
import { EventQueue } from './event-queue.ts';
import type { FailureDetector } from './failure-detector.ts';
import type { MemberEventWire } from './messages.ts';
import type { HostRecord } from './records.ts';
import { NodePart, type NodeContext } from './node-part.ts';
import { T_EVENTS, T_FALLBACK } from './timer-slots.ts';

/** Two events messages of one node are at least this many batches apart. */
const EVENTS_SPACING_FACTOR = 3;
/** Newcomer announcements are batched this many times longer than suspicions. */
const SLOW_BATCH_FACTOR = 10;
/**
 * Failure announcements wait longer still (5 s): every cell-mate's own suspicion timer reaches
 * the verdict, and the announcement is for late listeners. In a correlated failure they then
 * go out after the burst of suspicions, not on top of it.
 */
const FAILED_BATCH_FACTOR = 25;
/**
 * An accuser whose aggregator stays silent hands the accusation to the next-lowest members
 * (stand-ins) in turn, and publishes it itself only after this many of them stayed silent
 * too. In a correlated failure the aggregator is often among the dead: with every accuser
 * publishing for itself, one cell sent ~20 events messages a second (×5 with gossipsub
 * duplicates) at 1k hosts and a 30% failure.
 */
export const FALLBACK_STAND_INS = 2;

export interface CellEventsHooks {
  /** Publish an events message on the cell topic; `ownBytes` of it are ours to pay for (see flush). */
  publish(payload: Encoded, ownBytes: number, now: Millis): void;
}

/**
 * The cell's member events: accusations in, one batched `events` message out. A prober that
 * gives up on a member accuses it to the cell's aggregator (its lowest-hash member), which
 * counts distinct accusers and publishes one suspicion for them all; the announcer of a
 * suspicion also announces the failure, later, for late listeners; the aggregator announces
 * newcomers' records. If the aggregator stays silent the accuser goes down the line of
 * stand-ins, and publishes itself only after they stayed silent too.
 */
export class CellEvents extends NodePart {
  private readonly hooks: CellEventsHooks;
  private fd!: FailureDetector;

  private readonly queue: EventQueue;
  /**
   * Our accusations nobody has announced yet: target → when to escalate, and to which rank
   * (0 = the aggregator, then its stand-ins, then ourselves). Until it is announced, the
   * target is skipped as a ring successor: the member behind it gets probed at once.
   */
  private readonly fallbacks = new Map<PeerIdStr, { atMs: Millis; rank: number }>();
  /** As aggregator: distinct accusers per suspected target. */
  private readonly accusers = new Map<PeerIdStr, Set<PeerIdStr>>();
  /** Targets whose suspicion this node published: it announces their failure too (nobody else does). */
  private readonly announcing = new Set<PeerIdStr>();
  private lastEventsAtMs = -Infinity;

  constructor(ctx: NodeContext, hooks: CellEventsHooks) {
    super(ctx);
    this.hooks = hooks;
    this.queue = new EventQueue(ctx.opts.maxQueuedEvents);
  }

  /** The prober whose verdicts we carry (it calls accuse and probeTargets back). */
  attach(fd: FailureDetector): void {
    this.fd = fd;
  }

  get queued(): number {
    return this.queue.size;
  }

  get dropped(): number {
    return this.queue.dropped;
  }

  /** The failure detector gave up on `target`. */
  accuse(target: PeerIdStr, now: Millis): void {
    const status = this.membership.statusOf(target);
    if (status !== 'alive' && status !== 'suspect') return;
    const inc = this.membership.statusIncarnationOf(target);
    const agg = this.membership.lowest(1, target)[0];
    if (!agg || agg.record.origin === this.self) {
      this.aggregate(target, inc, this.self, now);
    } else {
      this.sendAccusation(agg.record.origin, target, inc);
      if (status === 'alive' && !this.fallbacks.has(target)) this.awaitAnnouncement(target, 0, now);
    }
    // The ring moved past the accused member: the one behind it lost a monitor, probe it now.
    this.fd.probeNewSuccessors(now);
  }

  /** Ring successors to probe, past the ones we accused and are waiting to hear announced. */
  probeTargets(): readonly PeerIdStr[] {
    const k = this.opts.monitors;
    if (this.fallbacks.size === 0) return this.membership.successors(k);
    const out: PeerIdStr[] = [];
    for (const p of this.membership.successors(k + this.fallbacks.size)) {
      if (out.length === k) break;
      if (!this.fallbacks.has(p)) out.push(p);
    }
    return out;
  }

  /** As the cell's aggregator (or its stand-in): turn accusations into one batched suspicion. */
  aggregate(target: PeerIdStr, incarnation: number, accuser: PeerIdStr, now: Millis): void {
    if (target === this.self) {
      // Someone could not reach us, and we are obviously alive: refute before it spreads.
      if (incarnation >= this.effects.incarnation()) this.effects.refute(incarnation, now);
      return;
    }
    const status = this.membership.statusOf(target);
    if (status !== 'alive' && status !== 'suspect') return;
    if (incarnation < this.membership.statusIncarnationOf(target)) return;
    let set = this.accusers.get(target);
    if (!set) {
      set = new Set();
      this.accusers.set(target, set);
    }
    if (set.has(accuser)) return;
    set.add(accuser);
    const confirmations = set.size - 1;
    const r = this.membership.applyStatus(target, 'suspect', incarnation, confirmations, now);
    if (r === 'stale' && status === 'suspect' && confirmations === 0) return;
    this.announcing.add(target);
    this.fallbacks.delete(target);
    this.queueEvent({ kind: 'suspect', peer: target, incarnation: this.membership.statusIncarnationOf(target), confirmations }, now);
  }

  /** A suspect, failed or left event heard on the cell topic (an `alive` one carries a record: the node takes it). */
  heard(ev: MemberEventWire, now: Millis): void {
    if (ev.kind === 'alive') return;
    if (ev.peer === this.self) {
      if (ev.kind !== 'left' && this.membership.applyStatus(ev.peer, ev.kind, ev.incarnation, 0, now) === 'self-refute') this.effects.refute(ev.incarnation, now);
      return;
    }
    const r = this.membership.applyStatus(ev.peer, ev.kind, ev.incarnation, ev.confirmations, now);
    if (r !== 'stale' || ev.kind === 'suspect') {
      // Someone announced it: our own pending fallback accusation is moot.
      this.fallbacks.delete(ev.peer);
    }
    if (ev.kind !== 'suspect' && r !== 'stale') this.clearSuspicion(ev.peer);
  }

  /** T_FALLBACK: accusations nobody announced in time go to the next in line. */
  runFallbacks(now: Millis): void {
    this.timers[T_FALLBACK] = Infinity;
    const due = [...this.fallbacks].filter(([, f]) => f.atMs <= now);
    for (const [target, f] of due) {
      this.fallbacks.delete(target);
      if (this.membership.statusOf(target) !== 'alive') continue;
      const inc = this.membership.statusIncarnationOf(target);
      // Nobody announced a suspicion: whoever we told may be dead too. Tell the next in line.
      const rank = f.rank + 1;
      const standIn = rank <= FALLBACK_STAND_INS ? this.membership.lowest(rank + 1, target)[rank] : undefined;
      if (!standIn || standIn.record.origin === this.self) {
        this.aggregate(target, inc, this.self, now);
        continue;
      }
      this.sendAccusation(standIn.record.origin, target, inc);
      this.awaitAnnouncement(target, rank, now);
    }
    for (const f of this.fallbacks.values()) if (f.atMs < this.timers[T_FALLBACK]!) this.timers[T_FALLBACK] = f.atMs;
  }

  /** A suspicion ran out in our view. Only its announcer publishes the failure; everyone else's timer reached the same verdict. */
  onLocallyFailed(peer: PeerIdStr, now: Millis): void {
    this.fd.forget(peer);
    this.accusers.delete(peer);
    if (this.announcing.delete(peer)) {
      this.queueEvent({ kind: 'failed', peer, incarnation: this.membership.statusIncarnationOf(peer), confirmations: 0 }, now);
    }
  }

  /** `peer` is alive after all (refuted, revived, or it left): nothing of ours about it stands. */
  clearSuspicion(peer: PeerIdStr): void {
    this.accusers.delete(peer);
    this.announcing.delete(peer);
    this.fallbacks.delete(peer);
    this.queue.drop(peer);
  }

  /** `peer` left our cell at a split: it did not fail, so no news about it goes out. */
  forget(peer: PeerIdStr): void {
    this.fd.forget(peer);
    this.clearSuspicion(peer);
  }

  /**
   * As the cell's aggregator: announce a newcomer's record in the next events batch, so a join
   * wave costs the cell one message per batch instead of one per joiner. A full batch goes
   * out at once: declining the 17th newcomer of a batch made a 1k join wave publish ~10 records
   * of its own in its first second (seed 4).
   */
  announceNewcomer(record: HostRecord, now: Millis): void {
    if (this.queue.count('alive') >= MAX_ANNOUNCED_PER_MESSAGE) this.flush(now);
    this.queueEvent({ kind: 'alive', peer: record.origin, incarnation: record.incarnation, confirmations: 0, record }, now);
    this.stats.newcomersAnnounced++;
  }

  /** T_EVENTS: publish what is queued, in one message. */
  flush(now: Millis): void {
    this.timers[T_EVENTS] = Infinity;
    if (this.queue.size === 0) return;
    const events = this.queue.drain();
    const enc = encodeEvents(this.opts.cluster, this.self, events);
    // Events are never held back (detection latency), but they are paid for: the debt slows our
    // records. Newcomers' records (announcements) are not ours to pay for: charged for a 60-host
    // join, the aggregator's own record waited over three heartbeat periods.
    let announcedBytes = 0;
    for (const ev of events) if (ev.record !== undefined) announcedBytes += wireSize(encodeRecord(ev.record));
    this.hooks.publish(enc, Math.max(0, wireSize(enc) - announcedBytes), now);
    this.stats.eventMessagesPublished++;
    this.lastEventsAtMs = now;
    this.metrics?.queueDepth('events', 0);
  }

  private sendAccusation(to: PeerIdStr, target: PeerIdStr, incarnation: number): void {
    this.effects.send(to, encodeAccuse(target, incarnation));
    this.stats.accusationsSent++;
  }

  private awaitAnnouncement(target: PeerIdStr, rank: number, now: Millis): void {
    const at = now + this.opts.accuseFallbackMs;
    this.fallbacks.set(target, { atMs: at, rank });
    if (at < this.timers[T_FALLBACK]!) this.timers[T_FALLBACK] = at;
  }

  private queueEvent(ev: MemberEventWire, now: Millis): void {
    this.queue.push(ev);
    this.metrics?.queueDepth('events', this.queue.size);
    // Suspicions go out within one batch; failures are not urgent (every cell-mate's own
    // timer reached the same verdict), nor are newcomers (a join wave is known within 30 s),
    // so they wait longer and ride along with later news.
    // In a burst (a correlated failure) messages are also spaced by EVENTS_SPACING_FACTOR batches.
    const batches = ev.kind === 'suspect' ? 1 : ev.kind === 'failed' ? FAILED_BATCH_FACTOR : SLOW_BATCH_FACTOR;
    const at = Math.max(now + batches * this.opts.eventBatchMs, this.lastEventsAtMs + EVENTS_SPACING_FACTOR * this.opts.eventBatchMs);
    if (at < this.timers[T_EVENTS]!) this.timers[T_EVENTS] = at;
  }
}
