import type { Logger } from 'pino';
import { Alarm } from '../../core/alarm.ts';
import type { Clock, Millis } from '../../core/clock.ts';
import { errorMessage } from '../../core/errors.ts';
import type { PeerIdStr } from '../../core/transport.ts';
import type { MemberStatus } from '../../gossip/records.ts';
import type { SubmitOutcome } from '../../placement/index.ts';
import {
  Evacuator,
  replaceResultOf,
  type EvacuationReport,
  type RecoveryMetrics,
  type RecoveryOptions,
  type ReplicaJob,
  type ReplicaOutcome,
  type WatchStatus,
} from '../../placement/recovery/index.ts';
import type { EventBus } from '../event-bus.ts';
import type { PlacementDriver } from '../placement-driver.ts';
import type { RecoveryClient } from './protocol.ts';
import type { ReplicaHolder } from './replica-holder.ts';

/**
 * Runs the pure `Evacuator` in the agent: real timers, re-placements through the placement
 * driver, outcomes written to this holder's store and sent to the owner's other holders (so a
 * holder that takes over skips what is done), events and metrics.
 */

export interface EvacuationRunnerOptions {
  recovery: RecoveryOptions;
  /** The view is polled this often on top of member events (a cell split changes rings without events). */
  tickMs: number;
}

export interface EvacuationRunnerModules {
  self: PeerIdStr;
  clock: Clock;
  holder: ReplicaHolder;
  statusOf: (peer: PeerIdStr) => MemberStatus | undefined;
  placement: Pick<PlacementDriver, 'replace'>;
  client: RecoveryClient;
  events: EventBus;
  metrics: RecoveryMetrics | null;
  logger: Logger;
}

export class EvacuationRunner {
  private readonly opts: EvacuationRunnerOptions;
  private readonly m: EvacuationRunnerModules;
  private evacuator: Evacuator | undefined;
  private readonly alarm: Alarm;
  private running = false;

  constructor(opts: EvacuationRunnerOptions, modules: EvacuationRunnerModules) {
    this.opts = opts;
    this.m = modules;
    this.alarm = new Alarm(modules.clock, () => this.tick());
  }

  start(): void {
    this.running = true;
    this.evacuator = new Evacuator(
      this.opts.recovery,
      {
        self: this.m.self,
        replicas: this.m.holder,
        statusOf: this.m.statusOf,
        outbox: {
          replace: (owner, job) => this.replace(owner, job),
          lose: (owner, job, reason, now) => this.lose(owner, job, reason, now),
          started: (owner, jobs) => {
            this.m.events.emit('host.evacuating', { host: owner, jobs, evacuator: this.m.self });
            this.m.logger.warn({ host: owner, jobs }, 'evacuating a failed host');
          },
          finished: (report) => this.finished(report),
        },
        metrics: this.m.metrics,
      },
      this.m.clock.now(),
    );
    this.tick();
  }

  stop(): void {
    this.running = false;
    this.alarm.cancel();
  }

  onMemberEvent(peer: PeerIdStr, status: MemberStatus, atMs: Millis): void {
    this.evacuator?.onMemberEvent(peer, status, atMs);
    this.arm(0);
  }

  status(): WatchStatus[] {
    return this.evacuator?.status() ?? [];
  }

  get stats(): Evacuator['stats'] | undefined {
    return this.evacuator?.stats;
  }

  private tick(): void {
    if (!this.running || this.evacuator === undefined) return;
    try {
      this.evacuator.onTimer(this.m.clock.now());
    } catch (err) {
      this.m.logger.error({ err }, 'evacuator threw');
    }
    const next = this.evacuator.nextTimerAtMs();
    this.arm(Math.min(this.opts.tickMs, Math.max(0, next - this.m.clock.now())));
  }

  private arm(delayMs: number): void {
    if (this.running) this.alarm.setWithin(delayMs);
  }

  private replace(owner: PeerIdStr, job: ReplicaJob): void {
    const entry = this.m.holder.entry(owner, job.jobId);
    const answer = (outcome: SubmitOutcome): void => {
      const result = replaceResultOf(outcome, owner);
      if (result.type === 'replaced') {
        const reason = `re-placed on ${result.host} at epoch ${result.epoch} after ${owner} failed`;
        this.record(owner, job.jobId, { type: 'replaced', host: result.host, epoch: result.epoch, reason, atMs: this.m.clock.now(), by: this.m.self });
        if (outcome.type === 'placed' && !outcome.duplicate) {
          this.m.events.emit('job.evacuated', { jobId: job.jobId, name: entry?.record.spec.name, from: owner, to: result.host, epoch: result.epoch });
        }
      } else {
        this.m.logger.info({ jobId: job.jobId, host: owner, result }, 're-placement did not land');
        if (result.type === 'abandon') this.m.events.emit('job.evacuation-abandoned', { jobId: job.jobId, from: owner, reason: result.reason });
      }
      this.evacuator?.onResult(owner, job.jobId, result, this.m.clock.now());
      this.arm(0);
    };
    if (entry === undefined) {
      queueMicrotask(() => answer({ type: 'failed', code: 'PLACEMENT_BAD_REQUEST', message: `no replica of job ${job.jobId} here any more`, asks: 0 }));
      return;
    }
    const r = entry.record;
    this.m.placement.replace(r.spec, { jobId: r.id, fromHost: owner, fromEpoch: r.epoch, driver: r.driver }).then(answer, (err: unknown) =>
      answer({ type: 'failed', code: 'PLACEMENT_TIMEOUT', message: errorMessage(err), asks: 0 }),
    );
  }

  private lose(owner: PeerIdStr, job: ReplicaJob, reason: string, now: Millis): void {
    const entry = this.m.holder.entry(owner, job.jobId);
    this.record(owner, job.jobId, { type: 'lost', host: null, epoch: job.epoch, reason, atMs: now, by: this.m.self });
    this.m.events.emit('job.lost', { jobId: job.jobId, name: entry?.record.spec.name, host: owner, reason });
    // The key owner may have failed with the host: make sure a binding leads `shoal status` to the host (and so to its holders).
    const r = entry?.record;
    if (r !== undefined && job.replaceable) {
      this.m.placement
        .replace(r.spec, { jobId: r.id, fromHost: owner, fromEpoch: r.epoch, driver: r.driver, bindOnly: true })
        .then((o) => {
          if (o.type !== 'placed') this.m.logger.debug({ jobId: r.id, outcome: o }, 'could not bind a lost job at its key owner');
        })
        .catch(() => undefined);
    }
  }

  private finished(report: EvacuationReport): void {
    const seconds = (report.finishedAtMs - report.downSinceMs) / 1000;
    this.m.events.emit('host.evacuated', { host: report.owner, replaced: report.replaced, lost: report.lost, abandoned: report.abandoned, seconds });
    this.m.logger.warn({ host: report.owner, replaced: report.replaced, lost: report.lost, seconds }, 'evacuation finished');
  }

  /** Writes the outcome here, then tells the owner's other holders (best effort, one retry). */
  private record(owner: PeerIdStr, jobId: string, outcome: ReplicaOutcome): void {
    const outcomes = [{ jobId, outcome }];
    void this.m.holder.recordOutcomes(owner, outcomes).catch((err: unknown) => this.m.logger.error({ err: errorMessage(err), jobId }, 'could not record an evacuation outcome'));
    for (const peer of this.m.holder.holdersOf(owner)) {
      if (peer === this.m.self) continue;
      void this.m.client
        .outcome(peer, owner, outcomes)
        .catch(() => this.m.client.outcome(peer, owner, outcomes))
        .catch((err: unknown) => this.m.logger.debug({ peer, jobId, err: errorMessage(err) }, 'could not tell a holder an outcome'));
    }
  }
}
