import type { Millis } from '../core/clock.ts';
import type { DriverName, JobSpec } from '../core/job.ts';
import type { Resources } from '../core/resources.ts';
import type { Rng } from '../core/rng.ts';
import type { PeerIdStr } from '../core/transport.ts';
import type { CellSummary } from '../gossip/records.ts';
import { cellWeight, chooseCell } from './cell-routing.ts';
import type { PlacementDemand } from './demand.ts';
import type { PlacementErrorCode } from './errors.ts';
import type { RefusalReason } from './feasibility.ts';
import type { AdmitResult } from './host-ledger.ts';
import type { HostSelector } from './host-selection.ts';
import type { PlacementOptions } from './options.ts';
import { RefusalTally, describeRefusal, formatCount } from './refusals.ts';
import type { ReservationOverlay } from './reservation-overlay.ts';
import type { PlacementView } from './view.ts';

/** Host answers that no other host would answer differently: the attempt stops on them. */
/** Host-side failure messages kept for the final answer. */
const MAX_HOST_FAILURES_NOTED = 3;

const TERMINAL_CODES: ReadonlySet<PlacementErrorCode> = new Set<PlacementErrorCode>([
  'PLACEMENT_IDEMPOTENCY_CONFLICT',
  'PLACEMENT_JOB_ID_CONFLICT',
  'PLACEMENT_BAD_REQUEST',
]);

/** One job to place: its id and epoch come from the key's owner. */
export interface PlacementJob {
  readonly jobId: string;
  readonly epoch: number;
  readonly spec: JobSpec;
  readonly specDigest: string;
  readonly demand: PlacementDemand;
}

/** `cluster`: own cell first, then other cells through contacts. `own-cell`: a contact placing a routed job in its cell. */
export type AttemptScope = 'cluster' | 'own-cell';

export type Ask =
  | {
      readonly kind: 'admit';
      readonly seq: number;
      readonly to: PeerIdStr;
      readonly jobId: string;
      readonly epoch: number;
      readonly timeoutMs: Millis;
    }
  | {
      readonly kind: 'route';
      readonly seq: number;
      /** A contact of `cell`. */
      readonly to: PeerIdStr;
      readonly addrs: readonly string[];
      readonly cell: number;
      readonly jobId: string;
      readonly epoch: number;
      /** Asks the contact may spend inside its cell. */
      readonly maxAsks: number;
      /** Hosts already asked (the contact skips them). */
      readonly exclude: readonly PeerIdStr[];
      /** Time the contact has before the caller gives up on it. */
      readonly budgetMs: Millis;
      readonly timeoutMs: Millis;
    };

export type AttemptOutcome =
  | {
      readonly type: 'placed';
      readonly jobId: string;
      readonly host: PeerIdStr;
      readonly epoch: number;
      readonly driver: DriverName;
      /** The host already held this key: no new job was created. */
      readonly duplicate: boolean;
      readonly free: Resources;
      /** Admission asks, including those a contact made; retries = asks − 1. */
      readonly asks: number;
    }
  | {
      readonly type: 'refused';
      readonly code: 'PLACEMENT_NO_CAPACITY';
      readonly message: string;
      readonly reasons: Partial<Record<RefusalReason, number>>;
      readonly checked: number;
      /** Host admission rejections by reason (their fresher state beat our view). */
      readonly rejections: Partial<Record<RefusalReason, number>>;
      readonly rejected: number;
      readonly asks: number;
    }
  | {
      readonly type: 'failed';
      readonly code: PlacementErrorCode;
      readonly message: string;
      readonly asks: number;
    };

export type AttemptAnswer =
  | { readonly type: 'admit'; readonly result: AdmitResult }
  | { readonly type: 'route'; readonly outcome: AttemptOutcome }
  /** No answer within the ask's timeout: the target may or may not have acted. */
  | { readonly type: 'timeout' }
  /** The request could not be delivered: the target surely did not act. */
  | { readonly type: 'unreachable' };

export type AttemptStep =
  | { readonly type: 'ask'; readonly ask: Ask }
  /** An ask is outstanding: call `next` again at `untilMs` or when its answer arrives. */
  | { readonly type: 'wait'; readonly untilMs: Millis }
  | { readonly type: 'done'; readonly outcome: AttemptOutcome };

export interface AttemptModules {
  readonly view: PlacementView;
  readonly rng: Rng;
  /** Shared by the node's attempts: its buffers are reused, selections are synchronous. */
  readonly selector: HostSelector;
  readonly overlay: ReservationOverlay | null;
}

export interface AttemptInit {
  readonly scope: AttemptScope;
  readonly now: Millis;
  /** Overrides `opts.maxAsks` (a contact gets the caller's remaining budget). */
  readonly maxAsks?: number;
  /** Overrides `opts.attemptDeadlineMs`. */
  readonly budgetMs?: Millis;
  /** Hosts not to ask (already asked by the caller). */
  readonly exclude?: Iterable<PeerIdStr>;
}

interface Outstanding {
  readonly ask: Ask;
  readonly deadlineMs: Millis;
  readonly summary: CellSummary | null;
}

/**
 * The retry logic of one placement, sans-I/O: the agent and the simulator both drive it.
 *
 *     let step = attempt.next(now);            // ask | wait | done
 *     ... send step.ask, later:
 *     attempt.onAnswer(step.ask.seq, answer, now);  // admit result, route outcome, timeout, unreachable
 *     step = attempt.next(now);
 *
 * One ask is outstanding at a time, so a job is never reserved on two hosts by one attempt.
 * Asks are bounded by `maxAsks` and the whole attempt by a deadline. A host that rejects or
 * times out is not asked again; after `maxOwnCellAsks` (or when nothing in the own cell is
 * feasible) the attempt routes through other cells' contacts. A timeout is ambiguous (the
 * host may have admitted), so later asks carry a higher epoch: if the silent host did admit,
 * the owner's binding names the newer placement and the stale copy is released or fenced.
 */
export class PlacementAttempt {
  readonly job: PlacementJob;
  readonly scope: AttemptScope;
  private readonly opts: PlacementOptions;
  private readonly modules: AttemptModules;
  private readonly maxAsks: number;
  private readonly deadlineMs: Millis;
  private readonly budgetMs: Millis;
  private readonly excluded = new Set<PeerIdStr>();
  private readonly avoid = new Set<PeerIdStr>();
  private readonly triedCells = new Set<number>();
  private readonly ownTally = new RefusalTally();
  private readonly cellTally = new RefusalTally();
  /** Contacts' exact tallies of the cells they refused, and our summary estimates of the same cells. */
  private readonly answeredExact = new RefusalTally();
  private readonly answeredEstimate = new RefusalTally();
  private readonly rejections = new RefusalTally();
  /** Hosts that failed to admit for their own reasons (storage, shutting down): what they said, bounded. */
  private readonly hostFailures: string[] = [];
  private outstanding: Outstanding | null = null;
  private seq = 0;
  private sent = 0;
  private extraAsks = 0;
  private ownCellAsks = 0;
  private ownCellExhausted = false;
  private routed = false;
  private timeoutCount = 0;
  private unreachable = 0;
  private epochValue: number;
  private result: AttemptOutcome | null = null;

  constructor(opts: PlacementOptions, modules: AttemptModules, job: PlacementJob, init: AttemptInit) {
    this.opts = opts;
    this.modules = modules;
    this.job = job;
    this.scope = init.scope;
    this.epochValue = job.epoch;
    this.maxAsks = Math.max(1, Math.min(init.maxAsks ?? opts.maxAsks, opts.maxAsks));
    this.budgetMs = Math.min(init.budgetMs ?? opts.attemptDeadlineMs, opts.attemptDeadlineMs);
    this.deadlineMs = init.now + this.budgetMs;
    if (init.exclude !== undefined) for (const p of init.exclude) this.excluded.add(p);
  }

  /** The epoch the next ask carries. */
  get epoch(): number {
    return this.epochValue;
  }

  /** Asks that timed out (ambiguous outcomes). */
  get timeouts(): number {
    return this.timeoutCount;
  }

  /** Asks made so far, contacts' included. */
  get asks(): number {
    return this.sent + this.extraAsks;
  }

  get outcome(): AttemptOutcome | null {
    return this.result;
  }

  get pendingAsk(): Ask | null {
    return this.outstanding === null ? null : this.outstanding.ask;
  }

  get deadline(): Millis {
    return this.deadlineMs;
  }

  next(now: Millis): AttemptStep {
    if (this.result !== null) return { type: 'done', outcome: this.result };
    const out = this.outstanding;
    if (out !== null) {
      if (now < out.deadlineMs && now < this.deadlineMs) return { type: 'wait', untilMs: Math.min(out.deadlineMs, this.deadlineMs) };
      this.onAnswer(out.ask.seq, { type: 'timeout' }, now);
      if (this.result !== null) return { type: 'done', outcome: this.result };
    }
    if (now >= this.deadlineMs) {
      return this.finish({
        type: 'failed',
        code: 'PLACEMENT_TIMEOUT',
        message: `placement of job ${this.job.spec.name} gave up after ${this.budgetMs} ms and ${this.asks} ask${this.asks === 1 ? '' : 's'}${this.trouble()}`,
        asks: this.asks,
      });
    }
    // Contacts' asks count too, so a placement never exceeds maxAsks in total.
    if (this.asks >= this.maxAsks) return this.refuse(`retry budget of ${this.maxAsks} ask${this.maxAsks === 1 ? '' : 's'} spent`);

    const ownFirst = this.scope === 'own-cell' || this.ownCellAsks < this.opts.maxOwnCellAsks;
    if (ownFirst) {
      const step = this.askOwnCell(now);
      if (step !== null) return step;
    }
    if (this.scope === 'own-cell') return this.refuse(undefined);
    const routed = this.askOtherCell(now);
    if (routed !== null) return routed;
    // No other cell can take it (or there is none, in a one-cell cluster): keep trying at home.
    if (!ownFirst) {
      const step = this.askOwnCell(now);
      if (step !== null) return step;
    }
    return this.refuse(undefined);
  }

  private askOwnCell(now: Millis): AttemptStep | null {
    if (this.ownCellExhausted) return null;
    const { view, rng, selector, overlay } = this.modules;
    this.ownTally.reset();
    const m = selector.select(this.job.demand, view.cellMembers(), {
      rng,
      now,
      overlay,
      excluded: this.excluded,
      tally: this.ownTally,
      // Anti-affinity jobs collide fatally (a host takes one of the group), so they draw wide from the start.
      widen: this.rejections.checked + (this.job.demand.antiAffinity !== undefined ? 3 : 0),
    });
    if (m === null) {
      this.ownCellExhausted = true;
      return null;
    }
    if (this.scope === 'cluster') this.ownCellAsks++;
    return this.ask(
      { kind: 'admit', seq: ++this.seq, to: m.record.origin, jobId: this.job.jobId, epoch: this.epochValue, timeoutMs: this.opts.admitTimeoutMs },
      null,
      now,
    );
  }

  private askOtherCell(now: Millis): AttemptStep | null {
    const { view, rng } = this.modules;
    this.cellTally.reset();
    this.routed = true;
    const choice = chooseCell(this.job.demand, view, {
      rng,
      now,
      excludeCells: this.triedCells,
      avoidPeers: this.avoid,
      tally: this.cellTally,
      maxSummaryAgeMs: this.opts.maxSummaryAgeMs,
      weakCellWeight: this.opts.weakCellWeight,
    });
    if (choice === null) return null;
    this.triedCells.add(choice.summary.cell);
    const budgetMs = Math.floor(this.opts.routeTimeoutMs * 0.8);
    return this.ask(
      {
        kind: 'route',
        seq: ++this.seq,
        to: choice.contact.peer,
        addrs: choice.contact.addrs,
        cell: choice.summary.cell,
        jobId: this.job.jobId,
        epoch: this.epochValue,
        maxAsks: Math.min(this.opts.contactMaxAsks, this.maxAsks - this.asks),
        exclude: this.excludedList(),
        budgetMs,
        timeoutMs: this.opts.routeTimeoutMs,
      },
      choice.summary,
      now,
    );
  }

  /** Applies the answer to ask `seq`. Returns false for an answer to an ask no longer outstanding (the caller handles late acceptances). */
  onAnswer(seq: number, answer: AttemptAnswer, now: Millis): boolean {
    const out = this.outstanding;
    if (this.result !== null || out === null || out.ask.seq !== seq) return false;
    this.outstanding = null;
    const ask = out.ask;
    const overlay = this.modules.overlay;
    switch (answer.type) {
      case 'admit': {
        const r = answer.result;
        if (r.type === 'accepted') {
          overlay?.note(ask.to, r.free, this.job.demand.antiAffinity, now);
          this.finish({ type: 'placed', jobId: r.jobId, host: ask.to, epoch: r.epoch, driver: r.driver, duplicate: r.duplicate, free: r.free, asks: this.asks });
          return true;
        }
        overlay?.note(ask.to, r.free, r.reason === 'anti-affinity' ? this.job.demand.antiAffinity : undefined, now);
        this.excluded.add(ask.to);
        if (r.reason !== null) this.rejections.add(r.reason);
        else if (TERMINAL_CODES.has(r.code)) this.finish({ type: 'failed', code: r.code, message: r.message, asks: this.asks });
        else if (this.hostFailures.length < MAX_HOST_FAILURES_NOTED) this.hostFailures.push(r.message);
        return true;
      }
      case 'route': {
        const o = answer.outcome;
        this.extraAsks += Math.max(0, o.asks - 1);
        if (o.type === 'placed') {
          overlay?.note(o.host, o.free, this.job.demand.antiAffinity, now);
          this.finish({ ...o, asks: this.asks });
          return true;
        }
        if (o.type === 'refused') {
          this.answeredExact.merge(RefusalTally.fromRecord(o.reasons, o.checked));
          if (out.summary !== null) cellWeight(this.job.demand, out.summary, this.opts.weakCellWeight, this.answeredEstimate);
          this.rejections.merge(RefusalTally.fromRecord(o.rejections, o.rejected));
          return true;
        }
        if (o.code === 'PLACEMENT_TIMEOUT') {
          // The contact's own host went silent: ambiguous, like our own timeout.
          this.timeoutCount++;
          this.epochValue++;
          return true;
        }
        this.finish({ ...o, asks: this.asks });
        return true;
      }
      case 'timeout':
        this.timeoutCount++;
        this.epochValue++;
        if (ask.kind === 'admit') this.excluded.add(ask.to);
        else this.avoid.add(ask.to);
        return true;
      case 'unreachable':
        this.unreachable++;
        if (ask.kind === 'admit') this.excluded.add(ask.to);
        else {
          // Not delivered: the cell itself was not tried, another contact may do.
          this.avoid.add(ask.to);
          this.triedCells.delete(ask.cell);
        }
        return true;
    }
  }

  private ask(ask: Ask, summary: CellSummary | null, now: Millis): AttemptStep {
    this.sent++;
    if (ask.kind === 'admit') this.excluded.add(ask.to);
    this.outstanding = { ask, deadlineMs: now + ask.timeoutMs, summary };
    return { type: 'ask', ask };
  }

  private excludedList(): PeerIdStr[] {
    const out: PeerIdStr[] = [];
    for (const p of this.excluded) {
      if (out.length >= this.opts.maxListedPeers) break;
      out.push(p);
    }
    return out;
  }

  private trouble(): string {
    const parts: string[] = [];
    if (this.timeoutCount > 0) parts.push(`${formatCount(this.timeoutCount)} did not answer in time`);
    if (this.unreachable > 0) parts.push(`${formatCount(this.unreachable)} unreachable`);
    return parts.length === 0 ? '' : ` (${parts.join(', ')})`;
  }

  private refuse(budgetNote: string | undefined): AttemptStep {
    if (this.timeoutCount > 0) {
      // Someone may have admitted the job without telling us: not a clean "no capacity".
      return this.finish({
        type: 'failed',
        code: 'PLACEMENT_TIMEOUT',
        message: `placement of job ${this.job.spec.name} is uncertain: ${formatCount(this.timeoutCount)} ask${this.timeoutCount === 1 ? '' : 's'} timed out and no other host took it; submit again with the same idempotency key`,
        asks: this.asks,
      });
    }
    const total = new RefusalTally();
    total.merge(this.ownTally);
    if (this.routed) {
      total.merge(this.cellTally);
      total.merge(this.answeredEstimate, -1);
      total.merge(this.answeredExact);
      // Estimates and exact answers are subtracted per reason with a floor of zero: keep the total coherent.
      total.checked = Math.max(total.checked, total.refused());
    }
    if (this.hostFailures.length > 0 && total.refused() === total.count('already-tried') && this.rejections.checked === 0) {
      // Every host that could take the job failed on its own side: not a capacity problem.
      return this.finish({
        type: 'failed',
        code: 'PLACEMENT_HOST_UNAVAILABLE',
        message: `no host could admit job ${this.job.spec.name}: ${this.hostFailures.join('; ')}`,
        asks: this.asks,
      });
    }
    const notes: string[] = [];
    if (budgetNote !== undefined) notes.push(budgetNote);
    if (this.unreachable > 0) notes.push(`${formatCount(this.unreachable)} unreachable`);
    if (this.hostFailures.length > 0) notes.push(`host failures: ${this.hostFailures.join('; ')}`);
    return this.finish({
      type: 'refused',
      code: 'PLACEMENT_NO_CAPACITY',
      message: describeRefusal(this.job.demand, total, this.rejections, notes.length > 0 ? notes.join('; ') : undefined),
      reasons: total.toRecord(),
      checked: total.checked,
      rejections: this.rejections.toRecord(),
      rejected: this.rejections.checked,
      asks: this.asks,
    });
  }

  private finish(outcome: AttemptOutcome): AttemptStep {
    this.result = outcome;
    this.outstanding = null;
    return { type: 'done', outcome };
  }
}
