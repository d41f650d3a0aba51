import type { Millis } from '../../src/core/index.ts';

/**
 * Every non-duplicate admission, in order, as columns: the audit's duplicate tracing and the
 * best-fit baseline's arrival order. An object per admission cost ~140 bytes with its joined
 * key; a 100k-host run filled to 80% admits two million jobs. The strings are the request's
 * own, shared, not copies.
 */
export class AdmissionLog {
  readonly hosts: number[] = [];
  readonly jobIds: string[] = [];
  readonly tenants: string[] = [];
  readonly keys: string[] = [];
  readonly epochs: number[] = [];
  readonly atMs: Millis[] = [];

  get length(): number {
    return this.hosts.length;
  }

  add(host: number, jobId: string, tenant: string, key: string, epoch: number, atMs: Millis): void {
    this.hosts.push(host);
    this.jobIds.push(jobId);
    this.tenants.push(tenant);
    this.keys.push(key);
    this.epochs.push(epoch);
    this.atMs.push(atMs);
  }
}
