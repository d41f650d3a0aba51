import type { Logger } from 'pino';
import type { Clock, TimerHandle } from '../../core/clock.ts';
import { errorMessage } from '../../core/errors.ts';
import type { JobRecord } from '../../core/job.ts';
import type { PeerIdStr } from '../../core/transport.ts';
import type { LocateOutcome } from '../../placement/index.ts';
import { fenceVerdict, type FenceNotice } from '../../placement/recovery/index.ts';
import type { EventBus } from '../event-bus.ts';
import type { RecoveryClient } from './protocol.ts';

/**
 * Stops copies of this host's jobs that were placed elsewhere while it was away (it was
 * declared failed and evacuated, or partitioned off). Sources: the key owners' bindings
 * (`locate`) and the outcomes evacuators left with this host's replica holders (`query`, and
 * fence notices in push answers). Checks run before the drivers start at boot, on every
 * rejoin (a refuted suspicion), and every `intervalMs`, which bounds how long two copies can
 * run after a partition heals.
 */

export interface FenceCheckerOptions {
  /** Periodic check of every job this host runs. */
  intervalMs: number;
  /** Locates in flight at once during a check. */
  concurrency: number;
  /** At boot, the longest the drivers wait for a first check (a lone host never gets answers). */
  startTimeoutMs: number;
}

export interface FenceCheckerModules {
  self: PeerIdStr;
  clock: Clock;
  /** This host's records. */
  records: () => Iterable<JobRecord>;
  get: (id: string) => JobRecord | undefined;
  /** Marks the record fenced (durable); the reconciler then stops the instance. */
  fence: (id: string, reason: string) => Promise<unknown>;
  locate: (jobId: string) => Promise<LocateOutcome>;
  client: RecoveryClient;
  /** This host's replica holders now. */
  holders: () => readonly PeerIdStr[];
  /** Up members of the own cell other than self (the boot check waits for one). */
  peersUp: () => number;
  /** Open connections to any peer: none after `LONELY_AFTER_MS` means a standalone host, not a slow join. */
  connections: () => number;
  /** A newer placement was learned: a key owner that holds an older binding updates it. */
  onSuperseded: (jobId: string, host: PeerIdStr, epoch: number) => void;
  onFenced: ((source: string) => void) | null;
  /** The key owner has no binding for a job running here (its previous owner failed): tell it where the job lives. */
  rebind: (record: JobRecord) => Promise<unknown>;
  events: EventBus;
  logger: Logger;
}

/** A booting agent with no connection at all after this is alone (a one-host install): its jobs start without waiting further. */
const LONELY_AFTER_MS = 3_000;

/** The job is meant to run here: worth checking. */
function checkable(r: JobRecord, self: PeerIdStr): boolean {
  return r.host === self && r.desired === 'running' && r.state !== 'fenced' && r.state !== 'lost';
}

export class FenceChecker {
  private readonly opts: FenceCheckerOptions;
  private readonly m: FenceCheckerModules;
  private timer: TimerHandle | undefined;
  private running = false;
  private checking: Promise<void> | null = null;
  private again = false;
  lastCheck: { reason: string; atMs: number; checked: number; fenced: number; unanswered: number } | null = null;

  constructor(opts: FenceCheckerOptions, modules: FenceCheckerModules) {
    this.opts = opts;
    this.m = modules;
  }

  /** The boot check: waits for a peer (bounded), checks every job, then arms the periodic check. */
  async startChecked(): Promise<void> {
    this.running = true;
    const jobs = [...this.m.records()].filter((r) => checkable(r, this.m.self));
    if (jobs.length > 0 && this.opts.startTimeoutMs > 0) {
      const startedAt = this.m.clock.now();
      const deadline = startedAt + this.opts.startTimeoutMs;
      await this.waitFor(() => this.m.peersUp() > 0 || (this.m.connections() === 0 && this.m.clock.now() - startedAt >= LONELY_AFTER_MS), deadline);
      if (this.m.peersUp() > 0) {
        // A rejoining host's view fills over a few sync rounds; a short settle lets key owners be found.
        await this.waitFor(() => false, Math.min(deadline, this.m.clock.now() + 1_000));
        const budget = Math.max(1_000, deadline - this.m.clock.now());
        await Promise.race([this.check('start'), this.waitFor(() => false, this.m.clock.now() + budget)]);
      } else {
        this.m.logger.warn({ jobs: jobs.length, waitedMs: this.opts.startTimeoutMs }, 'no peer answered at start: starting jobs without checking whether they moved');
      }
    }
    this.arm();
  }

  stop(): void {
    this.running = false;
    this.timer?.cancel();
    this.timer = undefined;
  }

  /** Checks now (coalesced: a check asked for while one runs runs once more after it). */
  check(reason: string): Promise<void> {
    if (this.checking !== null) {
      this.again = true;
      return this.checking;
    }
    this.checking = this.run(reason).finally(() => {
      this.checking = null;
      if (this.again && this.running) {
        this.again = false;
        void this.check(reason);
      }
    });
    return this.checking;
  }

  /** Fence notices from a holder's push answer. */
  applyNotices(notices: readonly FenceNotice[], source: string): void {
    for (const n of notices) void this.fenceIf(n.jobId, n.host, n.epoch, source);
  }

  private arm(): void {
    if (!this.running) return;
    this.timer = this.m.clock.schedule(this.opts.intervalMs, () => {
      void this.check('periodic').finally(() => this.arm());
    });
  }

  private async run(reason: string): Promise<void> {
    const started = this.m.clock.now();
    let fenced = 0;
    let unanswered = 0;
    // Holders first: they know about moves even when the key owner lost its binding.
    for (const holder of this.m.holders()) {
      try {
        for (const { jobId, outcome } of await this.m.client.query(holder)) {
          if (outcome.host !== null && (await this.fenceIf(jobId, outcome.host, outcome.epoch, 'replica-holder'))) fenced++;
        }
      } catch (err) {
        this.m.logger.debug({ holder, err: errorMessage(err) }, 'fence query to a replica holder failed');
      }
    }
    const jobs = [...this.m.records()].filter((r) => checkable(r, this.m.self));
    let next = 0;
    const worker = async (): Promise<void> => {
      while (next < jobs.length && this.running) {
        const job = jobs[next++]!;
        const cur = this.m.get(job.id);
        if (cur === undefined || !checkable(cur, this.m.self)) continue;
        const loc = await this.m.locate(job.id).catch((err: unknown): LocateOutcome => ({ type: 'failed', jobId: job.id, code: 'PLACEMENT_TIMEOUT', message: errorMessage(err) }));
        if (loc.type === 'failed') {
          unanswered++;
          continue;
        }
        if (loc.type === 'not-found') {
          await this.m.rebind(cur).catch((err: unknown) => this.m.logger.debug({ jobId: job.id, err: errorMessage(err) }, 'rebind failed'));
          continue;
        }
        if (loc.host === null) continue;
        if (loc.state === 'placed' && (await this.fenceIf(job.id, loc.host, loc.epoch, 'key-owner'))) fenced++;
      }
    };
    await Promise.all(Array.from({ length: Math.min(this.opts.concurrency, jobs.length) }, worker));
    this.lastCheck = { reason, atMs: started, checked: jobs.length, fenced, unanswered };
    if (fenced > 0 || unanswered > 0) this.m.logger.info(this.lastCheck, 'fence check done');
  }

  /** Fences the local copy if an authority's placement supersedes it. */
  private async fenceIf(jobId: string, host: PeerIdStr, epoch: number, source: string): Promise<boolean> {
    const cur = this.m.get(jobId);
    if (cur === undefined || !checkable(cur, this.m.self)) return false;
    const v = fenceVerdict({ host: this.m.self, epoch: cur.epoch }, { host, epoch, state: 'placed' });
    if (v.type !== 'fence') return false;
    const reason = `re-placed on ${host} at epoch ${epoch} (told by the ${source})`;
    await this.m.fence(jobId, reason);
    this.m.events.emit('job.fenced', { jobId, name: cur.spec.name, host: this.m.self, epoch: cur.epoch, supersededBy: host, supersededEpoch: epoch, source });
    this.m.logger.warn({ jobId, host, epoch, source }, 'stale copy fenced');
    this.m.onFenced?.(source);
    this.m.onSuperseded(jobId, host, epoch);
    return true;
  }

  private async waitFor(cond: () => boolean, deadlineMs: number): Promise<void> {
    while (!cond() && this.m.clock.now() < deadlineMs && this.running) {
      await new Promise<void>((resolve) => this.m.clock.schedule(Math.min(200, Math.max(1, deadlineMs - this.m.clock.now())), resolve));
    }
  }
}
