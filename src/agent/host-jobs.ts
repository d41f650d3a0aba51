import { createHash } from 'node:crypto';
import type { Clock, Millis } from '../core/clock.ts';
import { errorMessage } from '../core/errors.ts';
import { canonicalJson, type JobRecord, type JobSpec, type JobState } from '../core/job.ts';
import type { Resources } from '../core/resources.ts';
import type { PeerIdStr } from '../core/transport.ts';
import type { JobPatch, JobRepository } from '../host/job-repository.ts';
import { HostLedger, type AdmitRequest, type AdmitResult, type HostAdmission, type HostProfile, type Reservation } from '../placement/index.ts';
import type { JobStore } from '../store/job-store.ts';
import type { EventBus } from './event-bus.ts';
import { Mutex } from './mutex.ts';

/**
 * The jobs this host owns, and the authority on its capacity. The placement ledger checks
 * and reserves synchronously; the record is then persisted (fsynced, in order) before the
 * admission is answered, so an accepted job survives a crash and two requests can never
 * both take the last free capacity. It is answered only once its record is also on this
 * host's replica holders (see `confirmCopiesWith`).
 */

/** States in which a job holds its reservation. */
const HOLDS_CAPACITY: ReadonlySet<JobState> = new Set(['placed', 'starting', 'running', 'stopping']);

export function holdsCapacity(job: JobRecord): boolean {
  return job.desired !== 'deleted' && HOLDS_CAPACITY.has(job.state);
}

/** SHA-256 of the canonical spec; every agent of a cluster uses it, so digests compare across hosts. */
export function specDigest(spec: JobSpec): string {
  return createHash('sha256').update(canonicalJson(spec)).digest('hex').slice(0, 32);
}

function reservationOf(job: JobRecord): Reservation {
  const { spec } = job;
  return {
    jobId: job.id,
    epoch: job.epoch,
    tenant: spec.tenant,
    key: spec.idempotencyKey ?? `job:${job.id}`,
    specDigest: job.specDigest,
    resources: spec.resources,
    antiAffinity: spec.antiAffinityGroup === undefined ? null : `${spec.tenant}/${spec.antiAffinityGroup}`,
    driver: job.driver,
  };
}

export class HostJobs implements JobRepository {
  private readonly self: PeerIdStr;
  private readonly store: JobStore;
  private readonly clock: Clock;
  private readonly events: EventBus;
  private readonly profile: () => HostProfile;
  /** Store writes in the order the changes were made, one at a time. */
  private readonly writes = new Mutex();
  private readonly jobs = new Map<string, JobRecord>();
  private readonly changeListeners = new Set<() => void>();
  private ledgerValue: HostLedger | undefined;
  private confirmCopies: ((jobId: string, epoch: number) => Promise<unknown>) | null = null;

  constructor(modules: { self: PeerIdStr; store: JobStore; clock: Clock; events: EventBus; profile: () => HostProfile }) {
    this.self = modules.self;
    this.store = modules.store;
    this.clock = modules.clock;
    this.events = modules.events;
    this.profile = modules.profile;
  }

  /** Rebuilds the records and the ledger from the store: the store is the truth after a crash. */
  async load(): Promise<void> {
    this.jobs.clear();
    const reservations: Reservation[] = [];
    for (const job of await this.store.list()) {
      this.jobs.set(job.id, job);
      if (job.host === this.self && holdsCapacity(job)) reservations.push(reservationOf(job));
    }
    this.ledgerValue = new HostLedger(this.profile(), { v: 1, reservations });
  }

  get ledger(): HostLedger {
    if (!this.ledgerValue) throw new Error('HostJobs used before load()');
    return this.ledgerValue;
  }

  /** Facts, drivers, drain or config changed. */
  refreshProfile(): void {
    this.ledger.updateProfile(this.profile());
    this.changed();
  }

  get(id: string): JobRecord | undefined {
    return this.jobs.get(id);
  }

  async list(): Promise<JobRecord[]> {
    return this.all();
  }

  all(): JobRecord[] {
    return [...this.jobs.values()];
  }

  reserved(): Resources {
    return this.ledger.reserved();
  }

  free(): Resources {
    return this.ledger.free();
  }

  onChange(listener: () => void): () => void {
    this.changeListeners.add(listener);
    return () => this.changeListeners.delete(listener);
  }

  /**
   * How an admission waits for its record to reach the replica holders. The fsync covers a
   * crash of this agent, not the loss of the host: a host destroyed before its next push would
   * take an accepted job with it, and for a re-placement the evacuator that asked drops the
   * job's old copies once it is answered, leaving no copy anywhere.
   */
  confirmCopiesWith(confirm: (jobId: string, epoch: number) => Promise<unknown>): void {
    this.confirmCopies = confirm;
  }

  /** The host role of the placement protocol. */
  readonly admission: HostAdmission = {
    admit: (req, _now, done) => this.admit(req, done),
    release: (jobId, epoch) => void this.releaseSuperseded(jobId, epoch),
  };

  private admit(req: AdmitRequest, done: (result: AdmitResult, now: Millis) => void): void {
    const result = this.ledger.admit(req);
    if (result.type === 'rejected') {
      done(result, this.clock.now());
      return;
    }
    const now = this.clock.now();
    const existing = this.jobs.get(result.jobId);
    if (result.duplicate && existing && existing.epoch >= result.epoch) {
      done(result, now);
      return;
    }
    // A record that no longer holds capacity (fenced, stopped) is a job coming back here: start it afresh.
    const fresh = existing === undefined || (!result.duplicate && !holdsCapacity(existing));
    const job: JobRecord = !fresh
      ? { ...existing, epoch: result.epoch, updatedAtMs: now }
      : {
          id: req.jobId,
          spec: req.spec,
          specDigest: req.specDigest,
          host: this.self,
          driver: result.driver,
          desired: 'running',
          state: 'placed',
          epoch: req.epoch,
          createdAtMs: existing?.createdAtMs ?? now,
          updatedAtMs: now,
        };
    this.jobs.set(job.id, job);
    this.persist(job, existing === undefined).then(
      async () => {
        if (fresh) this.events.emit('job.accepted', { jobId: job.id, name: job.spec.name, host: this.self, driver: job.driver, tenant: job.spec.tenant, epoch: job.epoch });
        this.changed();
        await this.confirmCopies?.(job.id, job.epoch);
        done(result, this.clock.now());
      },
      (err: unknown) => {
        // Not durable, so not accepted: undo the reservation and say why.
        if (fresh) {
          if (existing) this.jobs.set(job.id, existing);
          else this.jobs.delete(job.id);
          this.ledger.release(job.id);
        }
        done({ type: 'rejected', code: 'PLACEMENT_HOST_UNAVAILABLE', reason: null, message: `host could not persist the job: ${errorMessage(err)}`, free: this.ledger.free() }, this.clock.now());
      },
    );
  }

  /** An admission answered after its ask timed out: the owner placed the job elsewhere. */
  private async releaseSuperseded(jobId: string, epoch: number): Promise<void> {
    const job = this.jobs.get(jobId);
    if (!job || job.epoch > epoch) return;
    if (!this.ledger.release(jobId, epoch)) return;
    await this.update(jobId, { state: 'fenced', reason: `superseded by a newer placement (epoch > ${epoch})` });
  }

  /** Desired `deleted`: capacity is released now, the reconcile loop stops the instance. */
  async stop(id: string): Promise<JobRecord | undefined> {
    const job = this.jobs.get(id);
    if (!job) return undefined;
    if (job.desired === 'deleted') return job;
    const next: JobRecord = { ...job, desired: 'deleted', state: job.state === 'placed' ? 'stopped' : job.state, updatedAtMs: this.clock.now() };
    this.jobs.set(id, next);
    this.ledger.release(id);
    await this.persist(next, false);
    this.events.emit('job.stopping', { jobId: id, name: job.spec.name });
    this.changed();
    return next;
  }

  /** Observed state from the reconcile loop; a job that stops holding capacity releases it. */
  async update(id: string, patch: JobPatch): Promise<JobRecord | undefined> {
    const job = this.jobs.get(id);
    if (!job) return undefined;
    // Fenced is final for this copy: a reconcile pass that read the record before it was fenced must not revive it.
    if (job.state === 'fenced' && patch.state !== undefined && patch.state !== 'fenced') patch = { ...patch, state: undefined };
    const next: JobRecord = withPatch(job, patch, this.clock.now());
    this.jobs.set(id, next);
    if (holdsCapacity(job) && !holdsCapacity(next)) this.ledger.release(id);
    await this.persist(next, false);
    if (patch.state && patch.state !== job.state) {
      this.events.emit('job.state', { jobId: id, name: job.spec.name, from: job.state, to: patch.state, reason: next.reason });
    }
    this.changed();
    return next;
  }

  /** Adds a record that did not come through placement (an imported VM). */
  async adopt(job: JobRecord): Promise<void> {
    this.jobs.set(job.id, job);
    if (holdsCapacity(job)) {
      // An imported VM already uses the host; it is counted even if it overcommits.
      this.ledgerValue = new HostLedger(this.profile(), { v: 1, reservations: [...this.ledger.reservations(), reservationOf(job)] });
    }
    await this.persist(job, true);
    this.events.emit('job.imported', { jobId: job.id, name: job.spec.name, driver: job.driver });
    this.changed();
  }

  private persist(job: JobRecord, created: boolean): Promise<void> {
    return this.writes.run(() => (created ? this.store.create(job) : this.store.put(job)));
  }

  private changed(): void {
    for (const listener of this.changeListeners) listener();
  }
}

function withPatch(job: JobRecord, patch: JobPatch, now: Millis): JobRecord {
  const next: { -readonly [K in keyof JobRecord]: JobRecord[K] } = { ...job, updatedAtMs: now };
  if (patch.state !== undefined) next.state = patch.state;
  if (patch.reason === null) delete next.reason;
  else if (patch.reason !== undefined) next.reason = patch.reason;
  if (patch.driverRef === null) delete next.driverRef;
  else if (patch.driverRef !== undefined) next.driverRef = patch.driverRef;
  return next;
}
