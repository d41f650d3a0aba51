import type { Millis } from '../core/clock.ts';
import { DRIVER_NAMES, type DriverName } from '../core/job.ts';
import type { PeerIdStr } from '../core/transport.ts';
import { PlacementError } from './errors.ts';
import { keyHashOfJobId } from './key-ownership.ts';
import { TenantKeyMap } from './tenant-key-map.ts';

/**
 * The key owner's side of exactly-once: the binding idempotency key → job, and per-key
 * serialisation (one placement per key at a time; later requests wait for its outcome).
 * A pure in-memory structure; the agent persists bindings (`snapshot`, or one binding at a
 * time as `PlacementNode` reports them) and restores them at start.
 */
export type BindingState = 'placing' | 'placed';

export interface Binding {
  readonly tenant: string;
  readonly key: string;
  readonly keyHash: number;
  readonly jobId: string;
  readonly specDigest: string;
  readonly state: BindingState;
  /** The host holding the job once placed. */
  readonly host: PeerIdStr | null;
  readonly epoch: number;
  readonly driver: DriverName | null;
  readonly updatedAtMs: Millis;
}

export type BeginResult =
  /** No placement runs for this key: the caller must run one for `binding.jobId` at `binding.epoch`. */
  | { readonly type: 'start'; readonly binding: Binding }
  /** A placement for this key and spec is running: wait for its outcome. */
  | { readonly type: 'in-progress'; readonly binding: Binding }
  /** Already placed with the same spec: answer with the existing job. */
  | { readonly type: 'placed'; readonly binding: Binding }
  /** The key is bound to a different spec. */
  | { readonly type: 'conflict'; readonly binding: Binding };

export type BeginReplaceResult =
  /** Move the job: run a placement at `binding.epoch`, excluding the old host; `previous` is restored if it fails. */
  | { readonly type: 'start'; readonly binding: Binding; readonly previous: Binding }
  /** A placement or re-placement of this job runs: wait for its outcome. */
  | { readonly type: 'in-progress'; readonly binding: Binding }
  /** Already moved off the old host (another evacuator, an earlier try): answer with where it runs. */
  | { readonly type: 'placed'; readonly binding: Binding }
  /** The key is bound to another job or spec (the job was deleted and its key reused). */
  | { readonly type: 'conflict'; readonly binding: Binding };

/** What a re-placement names: the job, and the copy it replaces. */
export interface ReplaceRequest {
  readonly tenant: string;
  readonly key: string;
  readonly keyHash: number;
  readonly specDigest: string;
  readonly jobId: string;
  readonly fromHost: PeerIdStr;
  readonly fromEpoch: number;
  readonly driver: DriverName;
}

/** Failed re-placements remembered so their epochs are not reused (in memory; bounded). */
const MAX_REPLACE_FLOORS = 4_096;

export interface RegistrySnapshot {
  readonly v: 1;
  readonly bindings: readonly Binding[];
}

export class OwnerRegistry {
  private readonly byKey = new TenantKeyMap<Binding>();
  private readonly byJob = new Map<string, Binding>();
  /** Job ids with a placement running in this process (not persisted: after a restart none run). */
  private readonly running = new Set<string>();
  /** Highest epoch a failed re-placement of a job tried: an admission at it may linger on a host that timed out. */
  private readonly replaceFloors = new Map<string, number>();

  constructor(snapshot?: RegistrySnapshot) {
    if (snapshot !== undefined) {
      checkSnapshot(snapshot);
      for (const b of snapshot.bindings) this.put(b);
    }
  }

  get size(): number {
    return this.byKey.size;
  }

  get(tenant: string, key: string): Binding | undefined {
    return this.byKey.get(tenant, key);
  }

  byJobId(jobId: string): Binding | undefined {
    return this.byJob.get(jobId);
  }

  isRunning(jobId: string): boolean {
    return this.running.has(jobId);
  }

  bindings(): IterableIterator<Binding> {
    return this.byKey.values();
  }

  /**
   * A request for `tenant/key` arrived. `newJobId` is called only when a new job starts;
   * `jobIdHint` (from an entry retrying after an owner failed) is reused when it belongs to
   * this key, so a host that already admitted it under that id answers "duplicate".
   */
  begin(
    req: { tenant: string; key: string; keyHash: number; specDigest: string; jobIdHint?: string | undefined },
    now: Millis,
    newJobId: () => string,
  ): BeginResult {
    const existing = this.byKey.get(req.tenant, req.key);
    if (existing !== undefined) {
      if (existing.specDigest !== req.specDigest) return { type: 'conflict', binding: existing };
      if (existing.state === 'placed') return { type: 'placed', binding: existing };
      if (this.running.has(existing.jobId)) return { type: 'in-progress', binding: existing };
      // Placing but nothing runs: this owner restarted mid-placement. Retry at a new epoch so a
      // host holding the old attempt's reservation is fenced once this one lands elsewhere.
      const retried: Binding = { ...existing, epoch: existing.epoch + 1, updatedAtMs: now };
      this.put(retried);
      this.running.add(retried.jobId);
      return { type: 'start', binding: retried };
    }
    const hint = req.jobIdHint;
    const jobId = hint !== undefined && keyHashOfJobId(hint) === req.keyHash && !this.byJob.has(hint) ? hint : newJobId();
    const binding: Binding = {
      tenant: req.tenant,
      key: req.key,
      keyHash: req.keyHash,
      jobId,
      specDigest: req.specDigest,
      state: 'placing',
      host: null,
      // A reused id may have been admitted somewhere at epoch 1 already; start above it.
      epoch: jobId === hint ? 2 : 1,
      driver: null,
      updatedAtMs: now,
    };
    this.put(binding);
    this.running.add(jobId);
    return { type: 'start', binding };
  }

  /**
   * The placement landed. `admittedJobId` differs from the binding's id when the host already
   * held this key under another id (a racing owner placed it first): the binding adopts it.
   */
  complete(jobId: string, placed: { host: PeerIdStr; epoch: number; driver: DriverName; admittedJobId?: string }, now: Millis): Binding {
    const b = this.byJob.get(jobId);
    if (b === undefined) throw new PlacementError('PLACEMENT_BAD_REQUEST', `no binding for job ${jobId}`, { jobId });
    this.running.delete(jobId);
    this.replaceFloors.delete(jobId);
    const finalId = placed.admittedJobId ?? jobId;
    if (finalId !== jobId) this.byJob.delete(jobId);
    const bound: Binding = { ...b, jobId: finalId, state: 'placed', host: placed.host, epoch: placed.epoch, driver: placed.driver, updatedAtMs: now };
    this.put(bound);
    return bound;
  }

  /**
   * A re-placement of `req.jobId` away from `req.fromHost` (its host failed, or drains). The
   * key owner serialises it with submits of the same key. Without a binding (the owner that
   * held it failed, or membership moved the key here) the copy being replaced is adopted as the
   * binding first. The new placement runs at an epoch above every epoch seen for the job, so
   * exactly one copy wins and the old host is fenced by it.
   */
  beginReplace(req: ReplaceRequest, now: Millis): BeginReplaceResult {
    let existing = this.byKey.get(req.tenant, req.key);
    if (existing === undefined) {
      const other = this.byJob.get(req.jobId);
      if (other !== undefined) return { type: 'conflict', binding: other };
      existing = placedAt(req, now);
      this.put(existing);
    }
    if (existing.jobId !== req.jobId || existing.specDigest !== req.specDigest) return { type: 'conflict', binding: existing };
    if (this.running.has(existing.jobId)) return { type: 'in-progress', binding: existing };
    if (existing.state === 'placed' && existing.host !== req.fromHost && existing.epoch >= req.fromEpoch) return { type: 'placed', binding: existing };
    // On the old host (at any epoch), or a binding older than the copy being replaced: move it.
    const previous: Binding =
      existing.state === 'placed' && existing.epoch >= req.fromEpoch
        ? existing
        : { ...existing, state: 'placed', host: req.fromHost, epoch: req.fromEpoch, driver: existing.driver ?? req.driver, updatedAtMs: now };
    const epoch = Math.max(previous.epoch, req.fromEpoch, this.replaceFloors.get(req.jobId) ?? 0) + 1;
    // The binding keeps naming the old host while the move runs: a locate still finds the job.
    const placing: Binding = { ...previous, state: 'placing', epoch, updatedAtMs: now };
    this.put(placing);
    this.running.add(placing.jobId);
    return { type: 'start', binding: placing, previous };
  }

  /**
   * A host (or an evacuator standing in for a failed one) tells the key owner where a job lives:
   * adopted when this owner has no binding for the key (its previous owner failed), moved
   * forward when the binding is older. Never starts a placement. Returns the binding as it now
   * stands, or a conflict when the key is bound to another job or spec.
   */
  bind(req: ReplaceRequest, now: Millis): { readonly type: 'bound' | 'conflict'; readonly binding: Binding } {
    const existing = this.byKey.get(req.tenant, req.key);
    if (existing === undefined) {
      const other = this.byJob.get(req.jobId);
      if (other !== undefined) return { type: 'conflict', binding: other };
      const b = placedAt(req, now);
      this.put(b);
      return { type: 'bound', binding: b };
    }
    if (existing.jobId !== req.jobId || existing.specDigest !== req.specDigest) return { type: 'conflict', binding: existing };
    if (existing.state === 'placed' && !this.running.has(existing.jobId) && existing.epoch < req.fromEpoch) {
      const b: Binding = { ...existing, host: req.fromHost, epoch: req.fromEpoch, updatedAtMs: now };
      this.put(b);
      return { type: 'bound', binding: b };
    }
    return { type: 'bound', binding: existing };
  }

  /** A re-placement was refused or failed: the job stays bound where it was; the epochs it tried are not reused. */
  restore(previous: Binding, triedEpoch: number): void {
    this.running.delete(previous.jobId);
    const current = this.byJob.get(previous.jobId);
    if (current !== undefined && current.state === 'placed') return; // completed meanwhile by another path
    this.put(previous);
    this.replaceFloors.delete(previous.jobId);
    this.replaceFloors.set(previous.jobId, Math.max(triedEpoch, previous.epoch));
    if (this.replaceFloors.size > MAX_REPLACE_FLOORS) this.replaceFloors.delete(this.replaceFloors.keys().next().value!);
  }

  /**
   * Another authority placed the job at `host` at a newer epoch (this owner was away while it
   * moved, a fenced host learned it from the job's replica holders). Returns the updated
   * binding, or undefined when this registry has nothing older to update.
   */
  supersede(jobId: string, host: PeerIdStr, epoch: number, now: Millis): Binding | undefined {
    const b = this.byJob.get(jobId);
    if (b === undefined || this.running.has(jobId) || b.state !== 'placed' || b.epoch >= epoch) return undefined;
    const next: Binding = { ...b, host, epoch, updatedAtMs: now };
    this.put(next);
    return next;
  }

  /** The placement was refused or failed: the key is free again. */
  abandon(jobId: string): void {
    const b = this.byJob.get(jobId);
    this.running.delete(jobId);
    if (b === undefined || b.state === 'placed') return;
    this.byJob.delete(jobId);
    this.byKey.delete(b.tenant, b.key);
  }

  /** The job was deleted: its key may be used again. */
  forget(jobId: string): boolean {
    const b = this.byJob.get(jobId);
    if (b === undefined) return false;
    this.running.delete(jobId);
    this.byJob.delete(jobId);
    this.byKey.delete(b.tenant, b.key);
    return true;
  }

  /**
   * Bindings handed over by a previous owner (membership changed). A placed binding wins over
   * a placing one; between two placed ones the higher epoch wins. Returns the keys whose two
   * placed bindings name different jobs: a duplicate the caller must resolve (stop one).
   */
  adopt(bindings: Iterable<Binding>): { adopted: number; duplicates: Binding[] } {
    let adopted = 0;
    const duplicates: Binding[] = [];
    for (const incoming of bindings) {
      const mine = this.byKey.get(incoming.tenant, incoming.key);
      if (mine === undefined) {
        this.put(incoming);
        adopted++;
        continue;
      }
      if (mine.state === 'placed' && incoming.state === 'placed' && mine.jobId !== incoming.jobId) duplicates.push(incoming);
      const takeIncoming =
        (incoming.state === 'placed' && mine.state === 'placing' && !this.running.has(mine.jobId)) ||
        (incoming.state === 'placed' && mine.state === 'placed' && incoming.jobId === mine.jobId && incoming.epoch > mine.epoch);
      if (takeIncoming) {
        if (mine.jobId !== incoming.jobId) this.byJob.delete(mine.jobId);
        this.put(incoming);
        adopted++;
      }
    }
    return { adopted, duplicates };
  }

  snapshot(): RegistrySnapshot {
    return { v: 1, bindings: [...this.byKey.values()] };
  }

  private put(b: Binding): void {
    this.byKey.set(b.tenant, b.key, b);
    this.byJob.set(b.jobId, b);
  }
}

function checkSnapshot(s: RegistrySnapshot): void {
  const fail = (message: string, details: Record<string, unknown> = {}): never => {
    throw new PlacementError('PLACEMENT_INVALID_SNAPSHOT', `invalid owner registry snapshot: ${message}`, details);
  };
  if (typeof s !== 'object' || s === null || s.v !== 1 || !Array.isArray(s.bindings)) fail('expected { v: 1, bindings: [] }');
  const keys = new TenantKeyMap<true>();
  const ids = new Set<string>();
  s.bindings.forEach((b, i) => {
    const at = { index: i };
    if (typeof b !== 'object' || b === null) fail(`binding ${i} is not an object`, at);
    if (typeof b.tenant !== 'string' || typeof b.key !== 'string' || b.key.length === 0) fail(`binding ${i} lacks tenant or key`, at);
    if (typeof b.jobId !== 'string' || b.jobId.length === 0) fail(`binding ${i} has no job id`, at);
    if (!Number.isInteger(b.keyHash) || b.keyHash < 0 || b.keyHash > 0xffffffff) fail(`binding ${b.jobId} has a bad key hash`, at);
    if (b.state !== 'placing' && b.state !== 'placed') fail(`binding ${b.jobId} has state ${String(b.state)}`, at);
    if (b.state === 'placed' && (typeof b.host !== 'string' || b.host.length === 0)) fail(`placed binding ${b.jobId} has no host`, at);
    if (b.state === 'placed' && !(DRIVER_NAMES as readonly unknown[]).includes(b.driver)) fail(`placed binding ${b.jobId} has no valid driver`, at);
    if (!Number.isInteger(b.epoch) || b.epoch < 1) fail(`binding ${b.jobId} has a bad epoch`, at);
    if (keys.has(b.tenant, b.key)) fail(`key ${b.tenant}/${b.key} appears twice`, at);
    if (ids.has(b.jobId)) fail(`job id ${b.jobId} appears twice`, at);
    keys.set(b.tenant, b.key, true);
    ids.add(b.jobId);
  });
}

/** The binding a request names: its job placed on the host it moves from (an owner that had no binding adopts it). */
function placedAt(req: ReplaceRequest, now: Millis): Binding {
  return {
    tenant: req.tenant,
    key: req.key,
    keyHash: req.keyHash,
    jobId: req.jobId,
    specDigest: req.specDigest,
    state: 'placed',
    host: req.fromHost,
    epoch: req.fromEpoch,
    driver: req.driver,
    updatedAtMs: now,
  };
}
