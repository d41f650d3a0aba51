import type { Millis } from '../core/clock.ts';
import { ShoalError } from '../core/errors.ts';
import type { UsageBucket, UsageCursor, UsageRepository } from '../host/metering.ts';
import type { Store, Sublevel } from './store.ts';

/**
 * Usage metering on `level`: one cursor per job ("counted up to here") and one bucket per
 * job and hour. A commit writes the cursor and its buckets in one synced batch, so after a
 * crash the time is either counted with its cursor advanced, or neither: never lost, never
 * counted twice.
 *
 * Bucket keys start with the bucket's start time (fixed width, so key order is time order),
 * which makes a "since" query a range scan instead of a read of every job's history.
 */

/** Decimal digits of a bucket start in a key: ms since 1970 fit in 13 until the year 2286. */
const START_DIGITS = 16;

export class UsageStore implements UsageRepository {
  private readonly store: Store;
  private readonly cursors: Sublevel;
  private readonly buckets: Sublevel;

  constructor(store: Store) {
    this.store = store;
    this.cursors = store.sublevel('usage-cursor');
    this.buckets = store.sublevel('usage-bucket');
  }

  async getCursor(jobId: string): Promise<UsageCursor | undefined> {
    return (await this.cursors.get(jobId)) as UsageCursor | undefined;
  }

  async getBucket(jobId: string, startMs: Millis): Promise<UsageBucket | undefined> {
    return (await this.buckets.get(bucketKey(startMs, jobId))) as UsageBucket | undefined;
  }

  async commit(cursor: UsageCursor, buckets: readonly UsageBucket[]): Promise<void> {
    for (const b of buckets) {
      // One job per commit: that is what makes the cursor and its buckets consistent.
      if (b.jobId !== cursor.jobId) {
        throw new ShoalError('USAGE_INVALID_COMMIT', `usage commit for job ${cursor.jobId} carries a bucket of job ${b.jobId}`, { jobId: cursor.jobId, bucketJobId: b.jobId });
      }
    }
    await this.store.writeSynced(`usage of job ${cursor.jobId}`, (batch) => {
      batch.put(cursor.jobId, cursor, { sublevel: this.cursors });
      for (const b of buckets) batch.put(bucketKey(b.startMs, b.jobId), b, { sublevel: this.buckets });
    });
  }

  async listBuckets(range: { fromStartMs?: Millis; toStartMs?: Millis }): Promise<UsageBucket[]> {
    const out: UsageBucket[] = [];
    const bounds: { gte?: string; lt?: string } = {};
    // Starts are whole ms: start >= x and start < x both hold exactly when they hold for ceil(x).
    if (range.fromStartMs !== undefined) bounds.gte = startPrefix(Math.max(0, Math.ceil(range.fromStartMs)));
    if (range.toStartMs !== undefined) bounds.lt = startPrefix(Math.max(0, Math.ceil(range.toStartMs)));
    for await (const value of this.buckets.values(bounds)) out.push(value as UsageBucket);
    return out;
  }
}

function startPrefix(startMs: Millis): string {
  if (!Number.isSafeInteger(startMs) || startMs < 0) {
    throw new ShoalError('USAGE_INVALID_BUCKET', `a usage bucket start must be a non-negative whole number of ms, got ${startMs}`, { startMs });
  }
  return String(startMs).padStart(START_DIGITS, '0');
}

function bucketKey(startMs: Millis, jobId: string): string {
  return `${startPrefix(startMs)}\u0000${jobId}`;
}
