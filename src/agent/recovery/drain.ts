import type { Logger } from 'pino';
import type { Clock } from '../../core/clock.ts';
import { errorMessage } from '../../core/errors.ts';
import type { JobRecord, JobSpec } from '../../core/job.ts';
import type { PeerIdStr } from '../../core/transport.ts';
import { keyHashOfJobId, type CounterLike, type ReplaceTarget, type SubmitOutcome } from '../../placement/index.ts';

/**
 * Drain: this host takes no new placements (its gossip record and its ledger say draining)
 * and moves every job it runs elsewhere, make-before-break: re-place through the key owner,
 * then fence the old copy here so the reconciler stops it. The flag is durable: a drained host
 * that restarts stays drained until `--cancel`.
 */

export interface DrainOptions {
  /** Jobs moved at once. */
  concurrency: number;
  /** First delay before moving a job that could not be moved; doubles up to `retryMaxMs`. */
  retryInitialMs: number;
  retryMaxMs: number;
}

export const defaultDrainOptions: DrainOptions = {
  concurrency: 4, // a drain is planned work: a few at a time spares the key owners and the new hosts
  retryInitialMs: 2_000, // ms: capacity freed elsewhere (or gossip catching up) is seen soon
  retryMaxMs: 30_000, // ms: an operator watching `shoal drain` sees progress at least this often
};

export interface DrainModules {
  self: PeerIdStr;
  clock: Clock;
  records: () => Iterable<JobRecord>;
  get: (id: string) => JobRecord | undefined;
  fence: (id: string, reason: string) => Promise<unknown>;
  replace: (spec: JobSpec, target: ReplaceTarget) => Promise<SubmitOutcome>;
  /** Sets the host's draining flag (ledger and gossip record follow). */
  setDraining: (draining: boolean) => void;
  persist: (draining: boolean) => Promise<void>;
  events: { emit(type: string, fields?: Record<string, unknown>): unknown };
  jobsReplaced: CounterLike<'reason'> | null;
  logger: Logger;
}

export interface DrainStatus {
  readonly host: PeerIdStr;
  readonly draining: boolean;
  /** Jobs still to move. */
  readonly remaining: number;
  readonly moved: number;
  /** Jobs that could not be moved yet, with why (retried while draining). */
  readonly stuck: readonly { jobId: string; name: string; reason: string }[];
  /** Draining and nothing left to move. */
  readonly drained: boolean;
}

/** Jobs a drain moves: meant to run here and not already superseded. */
function movable(r: JobRecord, self: PeerIdStr): boolean {
  return r.host === self && r.desired === 'running' && r.state !== 'fenced' && r.state !== 'lost' && r.state !== 'stopped';
}

export class DrainController {
  private readonly opts: DrainOptions;
  private readonly m: DrainModules;
  private draining = false;
  private moved = 0;
  /** Moves started and not finished: the key owner's release can fence the old copy before `move` counts it. */
  private movesInFlight = 0;
  private generation = 0;
  private readonly stuck = new Map<string, { name: string; reason: string }>();
  private loop: Promise<void> | null = null;
  private announcedDrained = false;
  private stopped = false;
  private sleep: { cancel(): void; wake(): void } | null = null;

  constructor(opts: DrainOptions, modules: DrainModules) {
    this.opts = opts;
    this.m = modules;
  }

  /** The agent stops: no more moves, no pending timer. */
  stop(): void {
    this.stopped = true;
    this.generation++;
    this.sleep?.cancel();
    this.sleep?.wake();
  }

  /** Restores the persisted flag at start. */
  restore(draining: boolean): void {
    if (!draining) return;
    this.draining = true;
    this.m.setDraining(true);
    this.kick();
  }

  status(): DrainStatus {
    const remaining = [...this.m.records()].filter((r) => movable(r, this.m.self)).length;
    return {
      host: this.m.self,
      draining: this.draining,
      remaining,
      moved: this.moved,
      stuck: [...this.stuck].map(([jobId, s]) => ({ jobId, ...s })),
      drained: this.draining && remaining === 0 && this.movesInFlight === 0,
    };
  }

  /** Starts or cancels the drain of this host; answers at once with the status (moves continue in the background). */
  async set(draining: boolean): Promise<DrainStatus> {
    if (draining !== this.draining) {
      await this.m.persist(draining);
      this.draining = draining;
      this.generation++;
      this.m.setDraining(draining);
      if (draining) {
        this.moved = 0;
        this.announcedDrained = false;
        this.m.events.emit('host.draining', { host: this.m.self, jobs: this.status().remaining });
        this.m.logger.warn('draining: no new placements here; moving every job elsewhere');
        this.kick();
      } else {
        this.stuck.clear();
        this.m.events.emit('host.drain-cancelled', { host: this.m.self });
        this.m.logger.warn('drain cancelled: this host takes placements again');
      }
    }
    return this.status();
  }

  private kick(): void {
    if (this.loop !== null || this.stopped) return;
    const gen = this.generation;
    this.loop = this.run(gen)
      .catch((err: unknown) => this.m.logger.error({ err: errorMessage(err) }, 'drain loop failed'))
      .finally(() => {
        this.loop = null;
        if (this.draining && this.generation !== gen) this.kick();
      });
  }

  private async run(gen: number): Promise<void> {
    let round = 0;
    while (this.draining && this.generation === gen) {
      const jobs = [...this.m.records()].filter((r) => movable(r, this.m.self));
      if (jobs.length === 0) {
        if (!this.announcedDrained) {
          this.announcedDrained = true;
          this.m.events.emit('host.drained', { host: this.m.self, moved: this.moved });
          this.m.logger.warn({ moved: this.moved }, 'drained: no job left on this host');
        }
        return;
      }
      let next = 0;
      const worker = async (): Promise<void> => {
        while (next < jobs.length && this.draining && this.generation === gen) await this.move(jobs[next++]!);
      };
      await Promise.all(Array.from({ length: Math.min(this.opts.concurrency, jobs.length) }, worker));
      if (this.stuck.size > 0) {
        round++;
        const delay = Math.min(this.opts.retryMaxMs, this.opts.retryInitialMs * 2 ** Math.min(10, round - 1));
        await new Promise<void>((resolve) => {
          const timer = this.m.clock.schedule(delay, resolve);
          this.sleep = { cancel: () => timer.cancel(), wake: resolve };
        });
        this.sleep = null;
      }
    }
  }

  private async move(job: JobRecord): Promise<void> {
    const cur = this.m.get(job.id);
    if (cur === undefined || !movable(cur, this.m.self)) return;
    if (cur.spec.idempotencyKey === undefined || keyHashOfJobId(cur.id) === null) {
      this.stuck.set(cur.id, { name: cur.spec.name, reason: 'an imported job has no key owner to re-place it through; stop it or move it by hand' });
      return;
    }
    this.movesInFlight++;
    try {
      await this.moveOnce(cur);
    } finally {
      this.movesInFlight--;
    }
  }

  private async moveOnce(cur: JobRecord): Promise<void> {
    let outcome: SubmitOutcome;
    try {
      outcome = await this.m.replace(cur.spec, { jobId: cur.id, fromHost: this.m.self, fromEpoch: cur.epoch, driver: cur.driver });
    } catch (err) {
      outcome = { type: 'failed', code: 'PLACEMENT_TIMEOUT', message: errorMessage(err), asks: 0 };
    }
    if (outcome.type !== 'placed' || outcome.host === this.m.self) {
      const reason = outcome.type === 'placed' ? `the key owner still binds it here at epoch ${outcome.epoch}` : outcome.message;
      this.stuck.set(cur.id, { name: cur.spec.name, reason });
      return;
    }
    this.stuck.delete(cur.id);
    // Make before break: the new copy is admitted (durably) before the old one stops.
    await this.m.fence(cur.id, `moved to ${outcome.host} at epoch ${outcome.epoch} (drain)`);
    this.moved++;
    this.m.jobsReplaced?.inc({ reason: 'drain' });
    this.m.events.emit('job.drained', { jobId: cur.id, name: cur.spec.name, from: this.m.self, to: outcome.host, epoch: outcome.epoch });
  }
}
