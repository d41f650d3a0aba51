import type { JobRecord } from '../core/job.ts';
import type { Store, Sublevel } from './store.ts';

/**
 * Job records and the idempotency index. A record and its index entry are written in one
 * synced batch, so after a crash either both exist or neither does.
 */
export class JobStore {
  private readonly store: Store;
  private readonly jobs: Sublevel;
  private readonly idempotency: Sublevel;

  constructor(store: Store) {
    this.store = store;
    this.jobs = store.sublevel('jobs');
    this.idempotency = store.sublevel('idempotency');
  }

  static idempotencyKey(tenant: string, key: string): string {
    return `${tenant}\u0000${key}`;
  }

  async get(id: string): Promise<JobRecord | undefined> {
    return (await this.jobs.get(id)) as JobRecord | undefined;
  }

  async list(): Promise<JobRecord[]> {
    const out: JobRecord[] = [];
    for await (const value of this.jobs.values()) out.push(value as JobRecord);
    return out;
  }

  async findByIdempotencyKey(tenant: string, key: string): Promise<JobRecord | undefined> {
    const id = (await this.idempotency.get(JobStore.idempotencyKey(tenant, key))) as string | undefined;
    return id === undefined ? undefined : this.get(id);
  }

  /** Durable before it resolves: the caller may then answer "accepted". */
  async create(job: JobRecord): Promise<void> {
    await this.store.writeSynced(`job ${job.id}`, (batch) => {
      batch.put(job.id, job, { sublevel: this.jobs });
      if (job.spec.idempotencyKey) {
        batch.put(JobStore.idempotencyKey(job.spec.tenant, job.spec.idempotencyKey), job.id, { sublevel: this.idempotency });
      }
    });
  }

  async put(job: JobRecord): Promise<void> {
    await this.store.writeSynced(`job ${job.id}`, (batch) => batch.put(job.id, job, { sublevel: this.jobs }));
  }
}
