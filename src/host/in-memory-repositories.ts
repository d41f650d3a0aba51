import type { Millis } from '../core/clock.ts';
import type { JobRecord } from '../core/job.ts';
import type { JobPatch, JobRepository } from './job-repository.ts';
import type { UsageBucket, UsageCursor, UsageRepository } from './metering.ts';

/**
 * In-memory repositories for tests and the simulator. Not durable: the agent uses its
 * `level` store. They copy on write so a caller holding an old record never sees it change.
 */

export class InMemoryJobRepository implements JobRepository {
  private readonly records = new Map<string, JobRecord>();
  private readonly now: () => Millis;

  constructor(now: () => Millis) {
    this.now = now;
  }

  put(record: JobRecord): void {
    this.records.set(record.id, record);
  }

  get(id: string): JobRecord | undefined {
    return this.records.get(id);
  }

  delete(id: string): void {
    this.records.delete(id);
  }

  async list(): Promise<JobRecord[]> {
    return [...this.records.values()];
  }

  async update(id: string, patch: JobPatch): Promise<JobRecord | undefined> {
    const r = this.records.get(id);
    if (!r) return undefined;
    const next: Record<string, unknown> = { ...r, updatedAtMs: this.now() };
    if (patch.state !== undefined) next.state = patch.state;
    if (patch.reason !== undefined) {
      if (patch.reason === null) delete next.reason;
      else next.reason = patch.reason;
    }
    if (patch.driverRef !== undefined) {
      if (patch.driverRef === null) delete next.driverRef;
      else next.driverRef = patch.driverRef;
    }
    const updated = next as unknown as JobRecord;
    this.records.set(id, updated);
    return updated;
  }
}

export class InMemoryUsageRepository implements UsageRepository {
  private readonly cursors = new Map<string, UsageCursor>();
  private readonly buckets = new Map<string, UsageBucket>();
  /** Commits so far, for tests asserting write counts. */
  commits = 0;

  async getCursor(jobId: string): Promise<UsageCursor | undefined> {
    return this.cursors.get(jobId);
  }

  async getBucket(jobId: string, startMs: Millis): Promise<UsageBucket | undefined> {
    return this.buckets.get(`${jobId}\u0000${startMs}`);
  }

  async commit(cursor: UsageCursor, buckets: readonly UsageBucket[]): Promise<void> {
    this.commits++;
    this.cursors.set(cursor.jobId, cursor);
    for (const b of buckets) this.buckets.set(`${b.jobId}\u0000${b.startMs}`, b);
  }

  async listBuckets(range: { fromStartMs?: Millis; toStartMs?: Millis }): Promise<UsageBucket[]> {
    return [...this.buckets.values()].filter((b) => (range.fromStartMs === undefined || b.startMs >= range.fromStartMs) && (range.toStartMs === undefined || b.startMs < range.toStartMs));
  }
}
