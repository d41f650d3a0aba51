import type { Millis } from '../core/clock.ts';
import { ShoalError } from '../core/errors.ts';
import { KeyedLock } from './keyed-lock.ts';
import { summarizeUsage, type UsageQuery, type UsageRow } from './usage-export.ts';

/**
 * Usage metering: vCPU-seconds, memory-MiB-seconds and running seconds per job, in time
 * buckets (hourly by default) so usage can be asked for "since" a date and summed per
 * tenant. Usage is accumulated from observed running intervals: each observation of a
 * running job adds the time since the previous observation (or since the run began, when
 * the driver knows), never before the last time already counted. The cursor that marks
 * "counted up to here" is written atomically with the buckets, so a crash or restart
 * can neither lose nor double-count time.
 */

export interface UsageCursor {
  readonly jobId: string;
  readonly tenant: string;
  /** Everything up to this instant is in the buckets. */
  readonly lastAtMs: Millis;
  /** Whether the job was running at `lastAtMs`. */
  readonly running: boolean;
}

export interface UsageBucket {
  readonly jobId: string;
  readonly tenant: string;
  /** Bucket start (a multiple of the bucket size since the epoch). */
  readonly startMs: Millis;
  readonly vcpuSeconds: number;
  readonly memoryMiBSeconds: number;
  readonly runningSeconds: number;
}

/** Persistence for usage; the agent implements it on `level`, one batch per commit. */
export interface UsageRepository {
  getCursor(jobId: string): Promise<UsageCursor | undefined>;
  getBucket(jobId: string, startMs: Millis): Promise<UsageBucket | undefined>;
  /** One atomic, durable write: the cursor and the buckets (each replaces the stored one with the same jobId + startMs). */
  commit(cursor: UsageCursor, buckets: readonly UsageBucket[]): Promise<void>;
  /** Buckets whose startMs is in [fromStartMs, toStartMs) (either bound optional), any order. */
  listBuckets(range: { fromStartMs?: Millis; toStartMs?: Millis }): Promise<UsageBucket[]>;
}

export interface UsageObservation {
  readonly jobId: string;
  readonly tenant: string;
  readonly vcpus: number;
  readonly memoryMiB: number;
  readonly running: boolean;
  readonly nowMs: Millis;
  /** When the current run began, if the driver knows (bridges agent restarts exactly). */
  readonly startedAtMs?: Millis;
  /** When the last run ended, if the driver knows (counts the tail after the last running observation). */
  readonly endedAtMs?: Millis;
}

export interface MeteringOptions {
  bucketMs: number;
  /**
   * A running observation with no known start time, after a gap longer than this since the
   * last one, counts only from now: the instance may have been down in between.
   */
  maxUnverifiedGapMs: number;
}

export const defaultMeteringOptions: MeteringOptions = {
  bucketMs: 3_600_000, // 1 h: the usual billing granularity; ~24 records per job per day
  maxUnverifiedGapMs: 120_000, // 2 min: several reconcile intervals; longer means the agent was down
};

export interface MeteringMetrics {
  /** Seconds of running time added, by outcome. */
  addedSeconds(seconds: number): void;
}

export interface MeteringModules {
  repository: UsageRepository;
  metrics: MeteringMetrics | null;
}

export class Metering {
  private readonly opts: MeteringOptions;
  private readonly repo: UsageRepository;
  private readonly metrics: MeteringMetrics | null;
  private readonly lock = new KeyedLock();

  constructor(opts: MeteringOptions, modules: MeteringModules) {
    if (!(opts.bucketMs > 0)) throw new ShoalError('USAGE_INVALID_OPTIONS', `bucketMs must be positive, got ${opts.bucketMs}`);
    this.opts = opts;
    this.repo = modules.repository;
    this.metrics = modules.metrics;
  }

  /** Usage rows for `GET /v1/usage` and `shoal usage`: buckets overlapping [since, until), summed per job or tenant. */
  async report(q: UsageQuery): Promise<UsageRow[]> {
    const buckets = await this.repo.listBuckets({
      ...(q.sinceMs !== undefined ? { fromStartMs: this.bucketStart(q.sinceMs) } : {}),
      ...(q.untilMs !== undefined ? { toStartMs: q.untilMs } : {}),
    });
    return summarizeUsage(buckets, q, this.opts.bucketMs);
  }

  get bucketMs(): number {
    return this.opts.bucketMs;
  }

  /** Records one observation; returns the running seconds it added. */
  observe(o: UsageObservation): Promise<number> {
    return this.lock.run(o.jobId, () => this.observeUnlocked(o));
  }

  private async observeUnlocked(o: UsageObservation): Promise<number> {
    const cur = await this.repo.getCursor(o.jobId);
    // Never count before what is already counted, nor after now.
    const floor = cur?.lastAtMs ?? -Infinity;
    let from: number | undefined;
    let to = o.nowMs;
    if (o.running) {
      if (o.startedAtMs !== undefined) from = Math.max(floor, o.startedAtMs);
      else if (cur?.running && o.nowMs - cur.lastAtMs <= this.opts.maxUnverifiedGapMs) from = cur.lastAtMs;
    } else if (cur?.running && o.endedAtMs !== undefined) {
      from = cur.lastAtMs;
      to = Math.min(o.endedAtMs, o.nowMs);
    }
    const buckets: UsageBucket[] = [];
    let added = 0;
    if (from !== undefined && to > from) {
      added = (to - from) / 1000;
      for (let start = this.bucketStart(from); start < to; start += this.opts.bucketMs) {
        const a = Math.max(from, start);
        const b = Math.min(to, start + this.opts.bucketMs);
        if (b <= a) continue;
        const secs = (b - a) / 1000;
        const prev = await this.repo.getBucket(o.jobId, start);
        buckets.push({
          jobId: o.jobId,
          tenant: o.tenant,
          startMs: start,
          vcpuSeconds: (prev?.vcpuSeconds ?? 0) + secs * o.vcpus,
          memoryMiBSeconds: (prev?.memoryMiBSeconds ?? 0) + secs * o.memoryMiB,
          runningSeconds: (prev?.runningSeconds ?? 0) + secs,
        });
      }
    }
    const lastAtMs = Math.max(floor, o.nowMs);
    if (buckets.length === 0 && cur && cur.running === o.running && cur.lastAtMs === lastAtMs) return 0;
    await this.repo.commit({ jobId: o.jobId, tenant: o.tenant, lastAtMs, running: o.running }, buckets);
    if (added > 0) this.metrics?.addedSeconds(added);
    return added;
  }

  private bucketStart(t: Millis): Millis {
    return Math.floor(t / this.opts.bucketMs) * this.opts.bucketMs;
  }
}
