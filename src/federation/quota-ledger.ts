import type { Usage } from './policy.ts';

/**
 * What remote clusters and their tenants reserve in this cluster, for quota decisions.
 * Authoritative counts come from the cluster's own job records (`replace`, from a listing of
 * jobs carrying the origin label); between recounts the gateway adds what it places itself
 * (`reserve` → `settle`) and removes what it stops. Totals are kept running, so a decision
 * costs two map reads, not a pass over the jobs.
 */

export interface RemoteJob {
  readonly jobId: string;
  readonly origin: string;
  readonly tenant: string;
  /** `tenant/idempotencyKey`: a retry of a known key is never counted twice. */
  readonly keyToken: string;
  readonly vcpus: number;
  readonly memoryMiB: number;
}

interface Pending {
  readonly origin: string;
  readonly tenant: string;
  readonly vcpus: number;
  readonly memoryMiB: number;
}

interface Total {
  vcpus: number;
  memoryMiB: number;
}

const ZERO: Usage = Object.freeze({ vcpus: 0, memoryMiB: 0 });

export function keyToken(tenant: string, key: string): string {
  return `${tenant}/${key}`;
}

export class QuotaLedger {
  readonly #jobs = new Map<string, RemoteJob>();
  readonly #jobByKey = new Map<string, string>();
  readonly #pending = new Map<string, Pending>();
  readonly #byCluster = new Map<string, Total>();
  readonly #byTenant = new Map<string, Total>();
  /** Jobs settled here, by the recount generation they were settled in. */
  readonly #settledIn = new Map<string, number>();
  #generation = 0;

  get jobs(): number {
    return this.#jobs.size;
  }

  get pending(): number {
    return this.#pending.size;
  }

  usage(origin: string, tenant: string): { cluster: Usage; tenant: Usage } {
    return { cluster: this.#byCluster.get(origin) ?? ZERO, tenant: this.#byTenant.get(tenant) ?? ZERO };
  }

  /** True when a job or an in-flight placement already holds this key: its retry needs no new quota. */
  holds(token: string): boolean {
    return this.#jobByKey.has(token) || this.#pending.has(token);
  }

  /** Counts an in-flight placement; false (and nothing counted) when the key is already held. */
  reserve(token: string, origin: string, tenant: string, want: Usage): boolean {
    if (this.holds(token)) return false;
    const p: Pending = { origin, tenant, vcpus: want.vcpus, memoryMiB: want.memoryMiB };
    this.#pending.set(token, p);
    this.#add(p, 1);
    return true;
  }

  /** The placement succeeded: the reservation becomes the job's. */
  settle(token: string, jobId: string): void {
    const p = this.#pending.get(token);
    if (p === undefined) return;
    this.#pending.delete(token);
    this.#add(p, -1);
    this.#put({ jobId, keyToken: token, origin: p.origin, tenant: p.tenant, vcpus: p.vcpus, memoryMiB: p.memoryMiB });
    this.#settledIn.set(jobId, this.#generation);
  }

  /** The placement failed: nothing is reserved any more. */
  release(token: string): void {
    const p = this.#pending.get(token);
    if (p === undefined) return;
    this.#pending.delete(token);
    this.#add(p, -1);
  }

  /** The job stopped: its capacity no longer counts. */
  remove(jobId: string): void {
    const j = this.#jobs.get(jobId);
    if (j === undefined) return;
    this.#jobs.delete(jobId);
    this.#settledIn.delete(jobId);
    if (this.#jobByKey.get(j.keyToken) === jobId) this.#jobByKey.delete(j.keyToken);
    this.#add(j, -1);
  }

  /** Call before listing the cluster's jobs; pass the result to `replace`. */
  beginRecount(): number {
    return ++this.#generation;
  }

  /**
   * An authoritative recount: the listed jobs replace every settled one, except jobs settled
   * since `beginRecount` (the listing may have missed them); in-flight reservations stay.
   */
  replace(jobs: Iterable<RemoteJob>, recount: number): void {
    const recent: RemoteJob[] = [];
    for (const [jobId, gen] of this.#settledIn) {
      const j = this.#jobs.get(jobId);
      if (gen >= recount && j !== undefined) recent.push(j);
    }
    this.#jobs.clear();
    this.#jobByKey.clear();
    this.#byCluster.clear();
    this.#byTenant.clear();
    this.#settledIn.clear();
    for (const p of this.#pending.values()) this.#add(p, 1);
    for (const j of jobs) this.#put(j);
    for (const j of recent) {
      this.#put(j);
      this.#settledIn.set(j.jobId, recount);
    }
  }

  #put(j: RemoteJob): void {
    const previous = this.#jobs.get(j.jobId);
    if (previous !== undefined) this.#add(previous, -1);
    this.#jobs.set(j.jobId, j);
    this.#jobByKey.set(j.keyToken, j.jobId);
    this.#add(j, 1);
  }

  #add(u: { origin: string; tenant: string; vcpus: number; memoryMiB: number }, sign: 1 | -1): void {
    bump(this.#byCluster, u.origin, u, sign);
    bump(this.#byTenant, u.tenant, u, sign);
  }
}

function bump(map: Map<string, Total>, name: string, u: Usage, sign: 1 | -1): void {
  let t = map.get(name);
  if (t === undefined) {
    t = { vcpus: 0, memoryMiB: 0 };
    map.set(name, t);
  }
  t.vcpus += sign * u.vcpus;
  t.memoryMiB += sign * u.memoryMiB;
  if (t.vcpus <= 0 && t.memoryMiB <= 0) map.delete(name);
}
