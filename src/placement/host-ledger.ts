import type { DriverName, JobSpec } from '../core/job.ts';
import { ZERO_RESOURCES, fitsIn, shortfalls, type Resources } from '../core/resources.ts';
import { antiAffinityToken, demandOf } from './demand.ts';
import { PlacementError, type PlacementErrorCode } from './errors.ts';
import { hostRefusal, pickDriver, type PlaceableHost, type RefusalReason } from './feasibility.ts';
import { reasonText } from './refusals.ts';
import { TenantKeyMap } from './tenant-key-map.ts';

/** What a host offers, from its config and facts; the ledger checks requests against it. */
export interface HostProfile {
  readonly cluster: string;
  readonly zone: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly drivers: readonly DriverName[];
  /** Allocatable capacity, overcommit ratios already applied (`allocatableCapacity`). */
  readonly capacity: Resources;
  readonly health: 'ok' | 'degraded';
  readonly draining: boolean;
}

export interface AdmitRequest {
  readonly jobId: string;
  /** Placement epoch: bumped when the job is re-placed, or retried after an ambiguous timeout. */
  readonly epoch: number;
  /** Must carry `idempotencyKey`: the entry agent sets one when the caller gave none. */
  readonly spec: JobSpec;
  readonly specDigest: string;
}

export type AdmitResult =
  | {
      readonly type: 'accepted';
      /** The job's id; on a duplicate, the id of the job first admitted for this key. */
      readonly jobId: string;
      readonly epoch: number;
      readonly driver: DriverName;
      readonly duplicate: boolean;
      /** Free capacity after this admission: routers plan with it until gossip catches up. */
      readonly free: Resources;
    }
  | {
      readonly type: 'rejected';
      readonly code: PlacementErrorCode;
      /** The feasibility reason, when the rejection is one (null for conflicts and bad requests). */
      readonly reason: RefusalReason | null;
      readonly message: string;
      readonly free: Resources;
    };

export interface Reservation {
  readonly jobId: string;
  readonly epoch: number;
  readonly tenant: string;
  readonly key: string;
  readonly specDigest: string;
  readonly resources: Resources;
  readonly antiAffinity: string | null;
  readonly driver: DriverName;
}

export interface LedgerSnapshot {
  readonly v: 1;
  readonly reservations: readonly Reservation[];
}

export function codeForReason(reason: RefusalReason): PlacementErrorCode {
  switch (reason) {
    case 'short-vcpus':
    case 'short-memory':
    case 'short-disk':
    case 'short-capacity':
      return 'PLACEMENT_INSUFFICIENT_RESOURCES';
    case 'anti-affinity':
      return 'PLACEMENT_ANTI_AFFINITY';
    case 'other-cluster':
    case 'other-zone':
    case 'no-driver':
    case 'missing-label':
      return 'PLACEMENT_CONSTRAINT_MISMATCH';
    case 'not-alive':
    case 'unhealthy':
    case 'draining':
    case 'already-tried':
      return 'PLACEMENT_HOST_UNAVAILABLE';
  }
}

const NO_GROUPS: readonly string[] = Object.freeze([]);

/**
 * A host's authority over its own capacity: reservations by job id, the idempotency index
 * and anti-affinity groups. `admit` checks and reserves in one synchronous step, so two
 * requests can never both take the last capacity; the agent persists the result (job record)
 * before it answers. Reservations never exceed capacity at the moment they are made: zero
 * overcommit beyond the ratios already folded into `capacity`.
 */
export class HostLedger {
  private profileValue: HostProfile;
  private readonly byJob = new Map<string, Reservation>();
  private readonly byKey = new TenantKeyMap<string>();
  private readonly groups = new Map<string, number>();
  private reservedTotal: Resources = ZERO_RESOURCES;
  private freeCache: Resources | null = null;

  constructor(profile: HostProfile, snapshot?: LedgerSnapshot) {
    this.profileValue = profile;
    if (snapshot !== undefined) {
      checkSnapshot(snapshot);
      for (const r of snapshot.reservations) this.add(r);
    }
  }

  get profile(): HostProfile {
    return this.profileValue;
  }

  /** Capacity or state changed (facts, config, drain). Existing reservations stay even if capacity shrank below them. */
  updateProfile(patch: Partial<HostProfile>): void {
    this.profileValue = { ...this.profileValue, ...patch };
    this.freeCache = null;
  }

  get size(): number {
    return this.byJob.size;
  }

  reserved(): Resources {
    return this.reservedTotal;
  }

  /** Capacity minus reservations; negative on an axis only if capacity shrank under existing jobs. */
  free(): Resources {
    if (this.freeCache === null) {
      const c = this.profileValue.capacity;
      const r = this.reservedTotal;
      this.freeCache = { vcpus: c.vcpus - r.vcpus, memoryMiB: c.memoryMiB - r.memoryMiB, diskGiB: c.diskGiB - r.diskGiB };
    }
    return this.freeCache;
  }

  get(jobId: string): Reservation | undefined {
    return this.byJob.get(jobId);
  }

  findByKey(tenant: string, key: string): Reservation | undefined {
    const id = this.byKey.get(tenant, key);
    return id === undefined ? undefined : this.byJob.get(id);
  }

  reservations(): IterableIterator<Reservation> {
    return this.byJob.values();
  }

  /** Anti-affinity tokens with a job here, for the host's gossip record. */
  antiAffinityGroups(): string[] {
    return [...this.groups.keys()];
  }

  admit(req: AdmitRequest): AdmitResult {
    const bad = validateRequest(req);
    if (bad !== null) return this.reject('PLACEMENT_BAD_REQUEST', null, bad);
    const spec = req.spec;
    const key = spec.idempotencyKey!;

    const sameId = this.byJob.get(req.jobId);
    if (sameId !== undefined && (sameId.tenant !== spec.tenant || sameId.key !== key)) {
      return this.reject('PLACEMENT_JOB_ID_CONFLICT', null, `job id ${req.jobId} is already used here for another idempotency key`);
    }
    const existingId = this.byKey.get(spec.tenant, key);
    if (existingId !== undefined) {
      const existing = this.byJob.get(existingId)!;
      if (existing.specDigest !== req.specDigest) {
        return this.reject(
          'PLACEMENT_IDEMPOTENCY_CONFLICT',
          null,
          `idempotency key "${key}" of tenant ${spec.tenant} was already used for job ${existing.jobId} with a different spec`,
        );
      }
      let r = existing;
      if (req.epoch > existing.epoch) {
        r = { ...existing, epoch: req.epoch };
        this.byJob.set(r.jobId, r);
      }
      return { type: 'accepted', jobId: r.jobId, epoch: r.epoch, driver: r.driver, duplicate: true, free: this.free() };
    }

    const demand = demandOf(spec);
    const p = this.profileValue;
    const host: PlaceableHost = {
      cluster: p.cluster,
      zone: p.zone,
      labels: p.labels,
      drivers: p.drivers,
      antiAffinityGroups: NO_GROUPS,
      health: p.health,
      draining: p.draining,
    };
    const free = this.free();
    let reason = hostRefusal(demand, host, free, 'alive');
    if (reason === null && demand.antiAffinity !== undefined && this.groups.has(demand.antiAffinity)) reason = 'anti-affinity';
    if (reason !== null) {
      let message = `host refused job ${spec.name}: ${reasonText(reason)}`;
      if (reason.startsWith('short-')) message += ` (${shortfalls(spec.resources, free).join(', ')})`;
      if (reason === 'anti-affinity') message += ` ${spec.antiAffinityGroup}`;
      return this.reject(codeForReason(reason), reason, message);
    }
    // Redundant with hostRefusal, kept as the one line that guarantees zero overcommit.
    if (!fitsIn(spec.resources, free)) return this.reject('PLACEMENT_INSUFFICIENT_RESOURCES', 'short-capacity', 'not enough free capacity');
    const driver = pickDriver(demand, p.drivers)!;
    const r: Reservation = {
      jobId: req.jobId,
      epoch: req.epoch,
      tenant: spec.tenant,
      key,
      specDigest: req.specDigest,
      resources: spec.resources,
      antiAffinity: spec.antiAffinityGroup === undefined ? null : antiAffinityToken(spec.tenant, spec.antiAffinityGroup),
      driver,
    };
    this.add(r);
    return { type: 'accepted', jobId: r.jobId, epoch: r.epoch, driver, duplicate: false, free: this.free() };
  }

  /**
   * Frees a job's reservation and its key. With `epoch`, only a reservation of that epoch or
   * older is released: a late release from a superseded placement cannot undo a newer one.
   */
  release(jobId: string, epoch?: number): boolean {
    const r = this.byJob.get(jobId);
    if (r === undefined) return false;
    if (epoch !== undefined && r.epoch > epoch) return false;
    this.byJob.delete(jobId);
    this.byKey.delete(r.tenant, r.key);
    if (r.antiAffinity !== null) {
      const n = (this.groups.get(r.antiAffinity) ?? 1) - 1;
      if (n <= 0) this.groups.delete(r.antiAffinity);
      else this.groups.set(r.antiAffinity, n);
    }
    const t = this.reservedTotal;
    this.reservedTotal = { vcpus: t.vcpus - r.resources.vcpus, memoryMiB: t.memoryMiB - r.resources.memoryMiB, diskGiB: t.diskGiB - r.resources.diskGiB };
    this.freeCache = null;
    return true;
  }

  snapshot(): LedgerSnapshot {
    return { v: 1, reservations: [...this.byJob.values()] };
  }

  private add(r: Reservation): void {
    this.byJob.set(r.jobId, r);
    this.byKey.set(r.tenant, r.key, r.jobId);
    if (r.antiAffinity !== null) this.groups.set(r.antiAffinity, (this.groups.get(r.antiAffinity) ?? 0) + 1);
    const t = this.reservedTotal;
    this.reservedTotal = { vcpus: t.vcpus + r.resources.vcpus, memoryMiB: t.memoryMiB + r.resources.memoryMiB, diskGiB: t.diskGiB + r.resources.diskGiB };
    this.freeCache = null;
  }

  private reject(code: PlacementErrorCode, reason: RefusalReason | null, message: string): AdmitResult {
    return { type: 'rejected', code, reason, message, free: this.free() };
  }
}

function isCount(n: unknown): boolean {
  return typeof n === 'number' && Number.isInteger(n) && n >= 0;
}

function validateRequest(req: AdmitRequest): string | null {
  if (typeof req.jobId !== 'string' || req.jobId.length === 0 || req.jobId.length > 128) return 'job id must be a string of 1 to 128 characters';
  if (!Number.isInteger(req.epoch) || req.epoch < 1) return `epoch must be a positive integer, got ${String(req.epoch)}`;
  if (typeof req.specDigest !== 'string' || req.specDigest.length === 0) return 'spec digest is missing';
  const spec = req.spec;
  if (typeof spec !== 'object' || spec === null) return 'spec is missing';
  if (typeof spec.idempotencyKey !== 'string' || spec.idempotencyKey.length === 0) return 'spec has no idempotency key';
  if (typeof spec.tenant !== 'string' || spec.tenant.length === 0) return 'spec has no tenant';
  const r = spec.resources;
  if (typeof r !== 'object' || r === null || !isCount(r.vcpus) || !isCount(r.memoryMiB) || !isCount(r.diskGiB)) {
    return 'resources must be non-negative integers';
  }
  return null;
}

function checkSnapshot(s: LedgerSnapshot): void {
  const fail = (message: string, details: Record<string, unknown> = {}): never => {
    throw new PlacementError('PLACEMENT_INVALID_SNAPSHOT', `invalid ledger snapshot: ${message}`, details);
  };
  if (typeof s !== 'object' || s === null || s.v !== 1 || !Array.isArray(s.reservations)) fail('expected { v: 1, reservations: [] }');
  const ids = new Set<string>();
  const keys = new TenantKeyMap<true>();
  s.reservations.forEach((r, i) => {
    const at = { index: i };
    if (typeof r !== 'object' || r === null) fail(`reservation ${i} is not an object`, at);
    if (typeof r.jobId !== 'string' || r.jobId.length === 0) fail(`reservation ${i} has no job id`, at);
    if (!Number.isInteger(r.epoch) || r.epoch < 1) fail(`reservation ${r.jobId} has a bad epoch`, at);
    if (typeof r.tenant !== 'string' || typeof r.key !== 'string' || typeof r.specDigest !== 'string') fail(`reservation ${r.jobId} lacks tenant, key or digest`, at);
    const res = r.resources;
    if (typeof res !== 'object' || res === null || !isCount(res.vcpus) || !isCount(res.memoryMiB) || !isCount(res.diskGiB)) {
      fail(`reservation ${r.jobId} has bad resources`, at);
    }
    if (ids.has(r.jobId)) fail(`job id ${r.jobId} appears twice`, at);
    if (keys.has(r.tenant, r.key)) fail(`idempotency key ${r.tenant}/${r.key} appears twice`, at);
    ids.add(r.jobId);
    keys.set(r.tenant, r.key, true);
  });
}
