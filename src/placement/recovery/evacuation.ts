import type { Millis } from '../../core/clock.ts';
import type { PeerIdStr } from '../../core/transport.ts';
import type { MemberStatus } from '../../gossip/records.ts';
import { DeadlineQueue } from '../deadline-queue.ts';
import type { RecoveryMetrics, RecoveryStats } from './metrics.ts';
import { emptyRecoveryStats } from './metrics.ts';
import type { RecoveryOptions } from './options.ts';
import { evacuatorOf, isUp } from './replica-ring.ts';

/**
 * The evacuation state machine of one node, sans-I/O: the agent and the simulator drive it the
 * same way.
 *
 *     evacuator.onMemberEvent(peer, status, atMs);   // optional: exact failure times
 *     evacuator.onTimer(now);                         // at nextTimerAtMs(), and after view changes
 *     … outbox.replace(owner, job) → later: evacuator.onResult(owner, jobId, result, now)
 *
 * For every host this node holds replicas of, it watches the host's status in the gossip view.
 * Once the host has been down (failed, left, or gone from the view) for its grace period, the
 * first up holder in the host's holder list (ring order) runs the evacuation: every replicated
 * job that should be running and has no recorded outcome is re-placed (through the key owner,
 * at a higher epoch, so exactly one copy wins however many evacuators act), or reported lost
 * when it must not move. If that holder fails meanwhile, the next one finds it down and takes
 * over from the outcomes already recorded (`settled` jobs are skipped; a re-placement sent
 * twice is answered idempotently by the key owner). A host that comes back cancels its
 * evacuation; it then fences whatever was moved.
 */

/** A replicated job as the evacuator sees it. */
export interface ReplicaJob {
  readonly jobId: string;
  /** Epoch of the replicated copy. */
  readonly epoch: number;
  /** The spec allows moving it (`evacuate`, default true). */
  readonly evacuate: boolean;
  /** It has a key owner to re-place it through (placement job id and idempotency key). */
  readonly replaceable: boolean;
  /** Desired running and not ended: worth running again. */
  readonly wantsRunning: boolean;
  /** An evacuator already recorded an outcome (replaced or lost). */
  readonly settled: boolean;
}

/** This node's replicas, read-only. Iteration order must be deterministic (insertion order). */
export interface ReplicaSource {
  owners(): Iterable<PeerIdStr>;
  /** The holder list the owner last pushed, in ring order; empty if unknown. */
  holdersOf(owner: PeerIdStr): readonly PeerIdStr[];
  jobsOf(owner: PeerIdStr): Iterable<ReplicaJob>;
}

export interface EvacuationReport {
  readonly owner: PeerIdStr;
  readonly downSinceMs: Millis;
  readonly startedAtMs: Millis;
  readonly finishedAtMs: Millis;
  readonly replaced: number;
  readonly lost: number;
  readonly abandoned: number;
}

/** The driver carries these out. `replace` answers later through `onResult`; it may answer at once. */
export interface EvacuationOutbox {
  replace(owner: PeerIdStr, job: ReplicaJob, now: Millis): void;
  /** Record the job as lost (at every holder); no answer is expected. */
  lose(owner: PeerIdStr, job: ReplicaJob, reason: string, now: Millis): void;
  started(owner: PeerIdStr, jobs: number, now: Millis): void;
  finished(report: EvacuationReport, now: Millis): void;
}

export type ReplaceResult =
  /** Placed again (now or earlier, by another evacuator): the driver records the outcome at the holders. */
  | { readonly type: 'replaced'; readonly host: PeerIdStr; readonly epoch: number }
  /** Refused (no capacity), owner unreachable, timeout: try again after a back-off. */
  | { readonly type: 'retry'; readonly reason: string }
  /** The key is bound to something else (the job was deleted, its key reused): nothing to do. */
  | { readonly type: 'abandon'; readonly reason: string };

export interface EvacuatorModules {
  readonly self: PeerIdStr;
  readonly replicas: ReplicaSource;
  /** The owner's status in this node's view; undefined when the view does not hold it (never seen, or forgotten). */
  readonly statusOf: (peer: PeerIdStr) => MemberStatus | undefined;
  readonly outbox: EvacuationOutbox;
  readonly metrics: RecoveryMetrics | null;
}

interface PlanJob {
  readonly job: ReplicaJob;
  tries: number;
  lastReason: string;
}

interface Plan {
  readonly startedAtMs: Millis;
  readonly downSinceMs: Millis;
  readonly queue: PlanJob[];
  next: number;
  readonly retries: DeadlineQueue<PlanJob>;
  readonly inFlight: Map<string, PlanJob>;
  replaced: number;
  lost: number;
  abandoned: number;
  /** Why the latest re-placement that did not land failed (no capacity, owner unreachable). */
  lastRetryReason: string | null;
}

interface Watch {
  readonly owner: PeerIdStr;
  /** Seen in the view (any status) since this evacuator started: its absence then means forgotten, not unknown. */
  seen: boolean;
  downSinceMs: Millis | null;
  left: boolean;
  plan: Plan | null;
  /** An evacuation finished for the current outage: nothing more to do until the host is up again. */
  done: boolean;
  /** The last evacuation this node finished for this owner. */
  last: EvacuationReport | null;
  mark: number;
}

export interface WatchStatus {
  readonly owner: PeerIdStr;
  readonly status: MemberStatus | 'unknown';
  readonly downSinceMs: Millis | null;
  readonly dueAtMs: Millis | null;
  /** This node runs the evacuation (or will, when due). */
  readonly evacuator: PeerIdStr | null;
  readonly evacuating: boolean;
  readonly done: boolean;
  readonly pending: number;
  readonly inFlight: number;
  readonly replaced: number;
  readonly lost: number;
  readonly lastRetryReason: string | null;
  readonly last: EvacuationReport | null;
}

interface QueuedResult {
  readonly owner: PeerIdStr;
  readonly jobId: string;
  readonly result: ReplaceResult;
}

export class Evacuator {
  readonly stats: RecoveryStats = emptyRecoveryStats();
  private readonly opts: RecoveryOptions;
  private readonly m: EvacuatorModules;
  private readonly watches = new Map<PeerIdStr, Watch>();
  private readonly startedAtMs: Millis;
  private readonly spacingMs: number;
  private nextStartAtMs = -Infinity;
  private mark = 0;
  private lastTickMs: Millis = -Infinity;
  private busy = false;
  private readonly results: QueuedResult[] = [];

  constructor(opts: RecoveryOptions, modules: EvacuatorModules, now: Millis) {
    this.opts = opts;
    this.m = modules;
    this.startedAtMs = now;
    this.spacingMs = 1000 / opts.maxReplacementsPerSec;
  }

  /** A status change in the view; gives the exact time a host went down. */
  onMemberEvent(peer: PeerIdStr, status: MemberStatus, atMs: Millis): void {
    const w = this.watches.get(peer);
    if (w === undefined) return;
    w.seen = true;
    if (isUp(status)) return;
    if (w.downSinceMs === null || (status === 'failed' && w.left)) w.downSinceMs = atMs;
    w.left = status === 'left';
  }

  onTimer(now: Millis): void {
    this.lastTickMs = now;
    this.run(now, () => {
      const mark = ++this.mark;
      for (const owner of this.m.replicas.owners()) {
        let w = this.watches.get(owner);
        if (w === undefined) {
          w = { owner, seen: false, downSinceMs: null, left: false, plan: null, done: false, last: null, mark };
          this.watches.set(owner, w);
        }
        w.mark = mark;
        this.step(w, now);
      }
      for (const [owner, w] of this.watches) {
        if (w.mark === mark) continue;
        // No replicas of this owner any more (it dropped us, or its records were removed).
        if (w.plan !== null) this.cancel(w);
        this.watches.delete(owner);
      }
    });
  }

  /** The outcome of a `replace`. Results for plans that were cancelled are ignored. */
  onResult(owner: PeerIdStr, jobId: string, result: ReplaceResult, now: Millis): void {
    this.results.push({ owner, jobId, result });
    this.run(now, () => undefined);
  }

  /** When `onTimer` next wants to run. Also call it after member events: a holder failing changes who evacuates. */
  nextTimerAtMs(): Millis {
    let at = Infinity;
    for (const w of this.watches.values()) {
      if (w.plan !== null) {
        const p = w.plan;
        if (p.inFlight.size < this.opts.maxConcurrentReplacements) {
          if (p.next < p.queue.length) at = Math.min(at, this.nextStartAtMs);
          at = Math.min(at, Math.max(p.retries.peekAt(), this.nextStartAtMs));
        }
      } else if (!w.done && w.downSinceMs !== null) {
        // A due owner that another holder evacuates waits on the view, not on a timer.
        const due = this.dueAt(w);
        if (due > this.lastTickMs) at = Math.min(at, due);
      }
    }
    return at;
  }

  /** Owners watched, for status pages. */
  status(): WatchStatus[] {
    const out: WatchStatus[] = [];
    for (const w of this.watches.values()) {
      const p = w.plan;
      const status = this.m.statusOf(w.owner);
      out.push({
        owner: w.owner,
        status: status ?? 'unknown',
        downSinceMs: w.downSinceMs,
        dueAtMs: w.downSinceMs === null ? null : this.dueAt(w),
        evacuator: w.downSinceMs === null ? null : evacuatorOf(this.m.replicas.holdersOf(w.owner), this.m.self, this.m.statusOf),
        evacuating: p !== null,
        done: w.done,
        pending: p === null ? 0 : p.queue.length - p.next + p.retries.size,
        inFlight: p === null ? 0 : p.inFlight.size,
        replaced: p === null ? 0 : p.replaced,
        lost: p === null ? 0 : p.lost,
        lastRetryReason: p === null ? null : p.lastRetryReason,
        last: w.last,
      });
    }
    return out;
  }

  // ── internals ────────────────────────────────────────────────────────────────────────────

  /** Runs `fn`, then applies queued results and pumps plans; re-entrant calls (a driver answering at once) are queued. */
  private run(now: Millis, fn: () => void): void {
    if (this.busy) {
      fn();
      return;
    }
    this.busy = true;
    try {
      fn();
      for (let i = 0; i < this.results.length; i++) this.apply(this.results[i]!, now);
      this.results.length = 0;
      for (const w of this.watches.values()) if (w.plan !== null) this.pump(w, now);
      for (let i = 0; i < this.results.length; i++) this.apply(this.results[i]!, now);
      this.results.length = 0;
    } finally {
      this.busy = false;
    }
  }

  private dueAt(w: Watch): Millis {
    const down = w.downSinceMs ?? Infinity;
    if (w.left) return down + this.opts.evacuateLeftAfterMs;
    const due = down + this.opts.evacuateAfterMs;
    return w.seen ? due : Math.max(due, this.startedAtMs + this.opts.unknownHostGraceMs);
  }

  private step(w: Watch, now: Millis): void {
    const status = this.m.statusOf(w.owner);
    if (status !== undefined) w.seen = true;
    if (isUp(status)) {
      if (w.downSinceMs !== null) {
        w.downSinceMs = null;
        w.left = false;
        w.done = false;
        if (w.plan !== null) this.cancel(w);
      }
      return;
    }
    if (w.downSinceMs === null) {
      w.downSinceMs = now;
      w.left = status === 'left';
    } else if (status === 'failed' && w.left) {
      // A host that left and is now declared failed gets the shorter grace from now on.
      w.left = false;
    }
    if (w.done || now < this.dueAt(w)) return;
    const evacuator = evacuatorOf(this.m.replicas.holdersOf(w.owner), this.m.self, this.m.statusOf);
    if (evacuator !== this.m.self) {
      if (w.plan !== null) this.cancel(w);
      return;
    }
    if (w.plan === null) this.begin(w, now);
  }

  private begin(w: Watch, now: Millis): void {
    const queue: PlanJob[] = [];
    const plan: Plan = {
      startedAtMs: now,
      downSinceMs: w.downSinceMs ?? now,
      queue,
      next: 0,
      retries: new DeadlineQueue<PlanJob>(),
      inFlight: new Map(),
      replaced: 0,
      lost: 0,
      abandoned: 0,
      lastRetryReason: null,
    };
    const lose: { job: ReplicaJob; reason: string }[] = [];
    for (const job of this.m.replicas.jobsOf(w.owner)) {
      if (!job.wantsRunning || job.settled) continue;
      if (!job.evacuate) lose.push({ job, reason: 'its host failed and the job asks not to be moved (evacuate: false)' });
      else if (!job.replaceable) lose.push({ job, reason: 'its host failed and the job has no idempotency key to re-place it by (imported)' });
      else queue.push({ job, tries: 0, lastReason: '' });
    }
    w.plan = plan;
    this.stats.evacuationsStarted++;
    this.m.outbox.started(w.owner, queue.length + lose.length, now);
    for (const { job, reason } of lose) {
      plan.lost++;
      this.stats.lost++;
      this.m.metrics?.jobsLost.inc({});
      this.m.outbox.lose(w.owner, job, reason, now);
    }
  }

  private pump(w: Watch, now: Millis): void {
    const p = w.plan!;
    while (p.inFlight.size < this.opts.maxConcurrentReplacements && now >= this.nextStartAtMs) {
      let pj: PlanJob | undefined;
      if (p.retries.peekAt() <= now) pj = p.retries.popDue(now);
      else if (p.next < p.queue.length) pj = p.queue[p.next++];
      if (pj === undefined) break;
      // Strict spacing, no burst: a zone failure starts every evacuator at once.
      this.nextStartAtMs = Math.max(this.nextStartAtMs, now) + this.spacingMs;
      p.inFlight.set(pj.job.jobId, pj);
      this.m.outbox.replace(w.owner, pj.job, now);
      if (w.plan !== p) return; // cancelled from inside the driver
    }
    this.maybeFinish(w, now);
  }

  private apply(r: QueuedResult, now: Millis): void {
    const w = this.watches.get(r.owner);
    const p = w?.plan;
    const pj = p?.inFlight.get(r.jobId);
    if (w === undefined || p == null || pj === undefined) return;
    p.inFlight.delete(r.jobId);
    switch (r.result.type) {
      case 'replaced':
        p.replaced++;
        this.stats.replaced++;
        this.m.metrics?.jobsReplaced.inc({ reason: 'evacuation' });
        this.m.metrics?.replaceResults.inc({ result: 'replaced' });
        break;
      case 'retry': {
        pj.tries++;
        pj.lastReason = r.result.reason;
        p.lastRetryReason = r.result.reason;
        this.stats.retries++;
        this.m.metrics?.replaceResults.inc({ result: 'retry' });
        const delay = Math.min(this.opts.retryMaxMs, this.opts.retryInitialMs * 2 ** Math.min(20, pj.tries - 1));
        p.retries.push(now + delay, pj);
        break;
      }
      case 'abandon':
        p.abandoned++;
        this.stats.abandoned++;
        this.m.metrics?.replaceResults.inc({ result: 'abandoned' });
        break;
    }
    this.maybeFinish(w, now);
  }

  private maybeFinish(w: Watch, now: Millis): void {
    const p = w.plan;
    if (p === null || p.next < p.queue.length || p.inFlight.size > 0 || p.retries.size > 0) return;
    w.plan = null;
    w.done = true;
    this.stats.evacuationsCompleted++;
    this.m.metrics?.evacuations.inc({ result: 'completed' });
    this.m.metrics?.evacuationSeconds.observe({}, Math.max(0, now - p.downSinceMs) / 1000);
    w.last = { owner: w.owner, downSinceMs: p.downSinceMs, startedAtMs: p.startedAtMs, finishedAtMs: now, replaced: p.replaced, lost: p.lost, abandoned: p.abandoned };
    this.m.outbox.finished(w.last, now);
  }

  private cancel(w: Watch): void {
    w.plan = null;
    this.stats.evacuationsCancelled++;
    this.m.metrics?.evacuations.inc({ result: 'cancelled' });
  }
}
