import { monitorEventLoopDelay, type ELDHistogram } from 'node:perf_hooks';
import type { Gauge } from 'prom-client';
import type { Clock, TimerHandle } from '../core/clock.ts';
import { EVENT_LOOP_SAMPLE_MS } from '../metrics/registry.ts';

/**
 * Lifeguard's local health, fed by this process's event-loop lag. An agent starved of CPU
 * (a host running hot, or 32 agents on 2 cores) answers pings late and reads acks late; with
 * the 500-ms ack timeout of the `lan` profile it would suspect healthy peers, and their
 * refutations would cost more CPU: the feedback loop of a gossip storm. Reporting the lag
 * raises the gossip node's awareness, which stretches its probe interval and timeouts until
 * the lag is gone.
 */

export interface LocalHealthOptions {
  /** Lag worth one awareness point: a quarter of the ack timeout, so a lag eating the timeout twice over still leaves it room. */
  unitMs: number;
  /** Highest score reported (the gossip node clamps to its own maximum too). */
  maxScore: number;
  /** How often the lag is read and reported. */
  intervalMs: number;
}

export interface LocalHealthModules {
  clock: Clock;
  /** Receives the score; `GossipNode.setLocalHealth`. */
  report: (score: number) => void;
  /** Lag histogram; Node's `monitorEventLoopDelay` unless a test passes its own. */
  lag?: Pick<ELDHistogram, 'percentile' | 'reset' | 'enable' | 'disable'>;
  metrics?: { lagSeconds: Gauge; score: Gauge };
}

/** Awareness points for a p99 event-loop lag: whole `unitMs` steps, 0…max. */
export function lagScore(p99LagMs: number, unitMs: number, maxScore: number): number {
  if (!(p99LagMs > 0) || !(unitMs > 0)) return 0;
  return Math.min(maxScore, Math.floor(p99LagMs / unitMs));
}

export class LocalHealth {
  private readonly opts: LocalHealthOptions;
  private readonly modules: LocalHealthModules;
  private readonly lag: NonNullable<LocalHealthModules['lag']>;
  private timer: TimerHandle | undefined;
  private scoreValue = 0;

  constructor(opts: LocalHealthOptions, modules: LocalHealthModules) {
    this.opts = opts;
    this.modules = modules;
    this.lag = modules.lag ?? monitorEventLoopDelay({ resolution: EVENT_LOOP_SAMPLE_MS });
  }

  get score(): number {
    return this.scoreValue;
  }

  start(): void {
    this.lag.enable();
    this.schedule();
  }

  stop(): void {
    this.timer?.cancel();
    this.timer = undefined;
    this.lag.disable();
  }

  /** Reads the lag since the last sample, reports its score, and starts a fresh window. */
  sample(): number {
    // Nanoseconds between the sampling timer's ticks: the interval itself is not lag (so a
    // stall reads up to one interval short, less than Lifeguard's unit of 125 ms).
    const p99Ms = Math.max(0, this.lag.percentile(99) / 1e6 - EVENT_LOOP_SAMPLE_MS);
    this.lag.reset();
    this.scoreValue = lagScore(p99Ms, this.opts.unitMs, this.opts.maxScore);
    this.modules.report(this.scoreValue);
    this.modules.metrics?.lagSeconds.set(p99Ms / 1000);
    this.modules.metrics?.score.set(this.scoreValue);
    return this.scoreValue;
  }

  private schedule(): void {
    this.timer = this.modules.clock.schedule(this.opts.intervalMs, () => {
      this.sample();
      if (this.timer) this.schedule();
    });
  }
}
