import { createHash } from 'node:crypto';
import type { Clock } from '../core/clock.ts';
import { ShoalError } from '../core/errors.ts';
import { canonicalJson, driverRunsKind, newJobId, type DriverName, type JobRecord, type JobSpec, type JobState } from '../core/job.ts';
import { ZERO_RESOURCES, fitsIn, shortfalls, subtractResources, addResources, type Resources } from '../core/resources.ts';
import type { Rng } from '../core/rng.ts';
import type { PeerIdStr } from '../core/transport.ts';
import type { JobStore } from '../store/job-store.ts';
import type { EventBus } from './event-bus.ts';
import type { PlacementOutcome } from './job-service.ts';
import { Mutex } from './mutex.ts';

/**
 * The jobs this host owns, and the authority on its capacity. Admission checks and reserves
 * under one lock and persists before it answers, so two concurrent requests can never both
 * take the last free capacity, and an answered job survives a crash.
 */

/** What the host offers right now, as the agent's facts and drivers report it. */
export interface HostOffer {
  readonly allocatable: Resources;
  readonly drivers: readonly DriverName[];
  readonly zone: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly draining: boolean;
}

/** States in which a job holds its reservation. */
const HOLDS_CAPACITY: ReadonlySet<JobState> = new Set(['placed', 'starting', 'running', 'stopping']);

export function holdsCapacity(job: JobRecord): boolean {
  return job.desired !== 'deleted' && HOLDS_CAPACITY.has(job.state);
}

export function specDigest(spec: JobSpec): string {
  return createHash('sha256').update(canonicalJson(spec)).digest('hex').slice(0, 32);
}

export class HostJobs {
  private readonly self: PeerIdStr;
  private readonly store: JobStore;
  private readonly clock: Clock;
  private readonly rng: Rng;
  private readonly events: EventBus;
  private readonly offer: () => HostOffer;
  private readonly lock = new Mutex();
  private readonly jobs = new Map<string, JobRecord>();
  private readonly changeListeners = new Set<() => void>();

  constructor(modules: { self: PeerIdStr; store: JobStore; clock: Clock; rng: Rng; events: EventBus; offer: () => HostOffer }) {
    this.self = modules.self;
    this.store = modules.store;
    this.clock = modules.clock;
    this.rng = modules.rng;
    this.events = modules.events;
    this.offer = modules.offer;
  }

  /** Rebuilds the in-memory view from the store: the store is the truth after a crash. */
  async load(): Promise<void> {
    this.jobs.clear();
    for (const job of await this.store.list()) this.jobs.set(job.id, job);
  }

  get(id: string): JobRecord | undefined {
    return this.jobs.get(id);
  }

  list(): JobRecord[] {
    return [...this.jobs.values()];
  }

  reserved(): Resources {
    let total = ZERO_RESOURCES;
    for (const job of this.jobs.values()) if (holdsCapacity(job)) total = addResources(total, job.spec.resources);
    return total;
  }

  free(): Resources {
    return subtractResources(this.offer().allocatable, this.reserved());
  }

  onChange(listener: () => void): () => void {
    this.changeListeners.add(listener);
    return () => this.changeListeners.delete(listener);
  }

  /** Check, reserve and persist atomically. Same idempotency key and spec → the existing job. */
  admit(spec: JobSpec): Promise<PlacementOutcome> {
    return this.lock.run(async () => {
      const digest = specDigest(spec);
      const existing = spec.idempotencyKey ? this.findByKey(spec.tenant, spec.idempotencyKey) : undefined;
      if (existing) {
        if (existing.specDigest !== digest) {
          throw new ShoalError('JOB_IDEMPOTENCY_CONFLICT', `idempotency key "${spec.idempotencyKey}" was already used for job ${existing.id} with a different spec`, {
            idempotencyKey: spec.idempotencyKey,
            jobId: existing.id,
          });
        }
        return { job: existing, created: false };
      }
      const driver = this.checkAdmission(spec);
      const now = this.clock.now();
      const job: JobRecord = {
        id: newJobId(now, this.rng),
        spec,
        specDigest: digest,
        host: this.self,
        driver,
        desired: 'running',
        state: 'placed',
        epoch: 1,
        createdAtMs: now,
        updatedAtMs: now,
      };
      await this.store.create(job);
      this.jobs.set(job.id, job);
      this.events.emit('job.accepted', { jobId: job.id, name: spec.name, host: this.self, driver, tenant: spec.tenant });
      this.changed();
      return { job, created: true };
    });
  }

  /** Desired `deleted`; capacity is released now, the reconcile loop stops the instance. */
  stop(id: string): Promise<JobRecord | undefined> {
    return this.lock.run(async () => {
      const job = this.jobs.get(id);
      if (!job) return undefined;
      if (job.desired === 'deleted') return job;
      const stopped: JobRecord = { ...job, desired: 'deleted', state: job.state === 'placed' ? 'stopped' : job.state, updatedAtMs: this.clock.now() };
      await this.store.put(stopped);
      this.jobs.set(id, stopped);
      this.events.emit('job.stopping', { jobId: id, name: job.spec.name });
      this.changed();
      return stopped;
    });
  }

  /** Records an observed state change (from the reconcile loop or a driver). */
  update(id: string, patch: Partial<Pick<JobRecord, 'state' | 'reason' | 'driverRef'>>): Promise<JobRecord | undefined> {
    return this.lock.run(async () => {
      const job = this.jobs.get(id);
      if (!job) return undefined;
      const next: JobRecord = { ...job, ...patch, updatedAtMs: this.clock.now() };
      await this.store.put(next);
      this.jobs.set(id, next);
      if (patch.state && patch.state !== job.state) {
        this.events.emit('job.state', { jobId: id, name: job.spec.name, from: job.state, to: patch.state, reason: patch.reason });
      }
      this.changed();
      return next;
    });
  }

  private findByKey(tenant: string, key: string): JobRecord | undefined {
    for (const job of this.jobs.values()) {
      if (job.spec.tenant === tenant && job.spec.idempotencyKey === key) return job;
    }
    return undefined;
  }

  /** Throws JOB_UNPLACEABLE with the reason; returns the driver that will run the job. */
  private checkAdmission(spec: JobSpec): DriverName {
    const offer = this.offer();
    const refuse = (reason: string, message: string): never => {
      throw new ShoalError('JOB_UNPLACEABLE', `no host can run this job: ${message} (1 host checked)`, { reasons: { [reason]: 1 }, hostsChecked: 1 });
    };
    if (offer.draining) refuse('draining', 'the only host is draining');
    const driver = spec.driver ?? offer.drivers.find((d) => d !== 'fake' && driverRunsKind(d, spec.kind)) ?? offer.drivers.find((d) => driverRunsKind(d, spec.kind));
    if (!driver || !offer.drivers.includes(driver)) refuse('driver', `no available driver runs a ${spec.kind} job${spec.driver ? ` with driver ${spec.driver}` : ''}`);
    if (spec.constraints.zone && spec.constraints.zone !== offer.zone) refuse('zone', `no host in zone ${spec.constraints.zone}`);
    for (const [key, value] of Object.entries(spec.constraints.hostLabels)) {
      if (offer.labels[key] !== value) refuse('labels', `no host with label ${key}=${value}`);
    }
    if (spec.antiAffinityGroup && this.list().some((j) => holdsCapacity(j) && j.spec.antiAffinityGroup === spec.antiAffinityGroup)) {
      refuse('antiAffinity', `every host already runs a job of anti-affinity group ${spec.antiAffinityGroup}`);
    }
    const free = this.free();
    if (!fitsIn(spec.resources, free)) refuse('resources', `not enough free capacity (${shortfalls(spec.resources, free).join(', ')})`);
    return driver!;
  }

  private changed(): void {
    for (const listener of this.changeListeners) listener();
  }
}
