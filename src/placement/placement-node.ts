import type { Millis } from '../core/clock.ts';
import type { JobSpec } from '../core/job.ts';
import type { Rng } from '../core/rng.ts';
import type { PeerIdStr } from '../core/transport.ts';
import { DeadlineQueue } from './deadline-queue.ts';
import { demandOf } from './demand.ts';
import { PlacementError } from './errors.ts';
import type { AdmitRequest, AdmitResult } from './host-ledger.ts';
import { HostSelector } from './host-selection.ts';
import { keyHashOf, keyHashOfJobId, placementJobId, routeToOwner, type OwnerRoute } from './key-ownership.ts';
import type {
  AdmitMessage,
  LocateMessage,
  LocateOutcome,
  PlacementMessage,
  ReplaceTarget,
  RouteMessage,
  SubmitMessage,
  SubmitOutcome,
} from './messages.ts';
import { MAX_ENTRY_ADDRS, PLACEMENT_PROTOCOL_VERSION } from './messages.ts';
import type { PlacementMetrics, PlacementStats } from './metrics.ts';
import { emptyPlacementStats } from './metrics.ts';
import type { PlacementOptions } from './options.ts';
import { OwnerRegistry, type Binding, type ReplaceRequest } from './owner-registry.ts';
import { PlacementAttempt, type AttemptAnswer, type AttemptModules, type AttemptOutcome } from './placement-attempt.ts';
import { REFUSAL_REASONS } from './feasibility.ts';
import { ReservationOverlay } from './reservation-overlay.ts';
import { placementSpecDigest } from './spec-digest.ts';
import type { PlacementView } from './view.ts';

/** Room left in a placement message for everything but the spec (ids, peers, lists). */
const SPEC_ENVELOPE_BYTES = 4096;

/** Where the node's messages go. The agent encodes (`encodePlacementMessage`) and sends on a stream; the simulator delivers the object. */
export interface PlacementOutbox {
  /** Fire and forget. When delivery fails, the driver calls `PlacementNode.onSendFailed`. May throw PLACEMENT_MESSAGE_TOO_LARGE. */
  send(to: PeerIdStr, msg: PlacementMessage, addrs?: readonly string[]): void;
}

/**
 * The host role. `admit` must check and reserve synchronously (HostLedger.admit), then the
 * agent persists the job before calling `done`: an accepted answer is durable. The simulator
 * calls `done` at once (`LedgerAdmission`).
 */
export interface HostAdmission {
  admit(req: AdmitRequest, now: Millis, done: (result: AdmitResult, now: Millis) => void): void;
  /** Release a superseded admission, only if its epoch is not newer than `epoch`. */
  release(jobId: string, epoch: number, now: Millis): void;
}

/** Durable owner bindings. `done` after the write is synced; the node answers the entry only then. */
export interface BindingPersistence {
  save(binding: Binding, done: (err: Error | null, now: Millis) => void): void;
}

export interface PlacementNodeModules {
  readonly view: PlacementView;
  readonly rng: Rng;
  readonly outbox: PlacementOutbox;
  /** Null on a node that runs no jobs: it still routes, owns keys and coordinates. */
  readonly admission: HostAdmission | null;
  /** Null in the simulator: bindings live in memory only. */
  readonly bindings: BindingPersistence | null;
  /** A registry restored from the store; a fresh one otherwise. */
  readonly registry?: OwnerRegistry;
  /** Must be the same function on every node (the agent passes its SHA-256 digest). */
  readonly specDigest?: (spec: JobSpec) => string;
  readonly metrics: PlacementMetrics | null;
}

interface EntrySubmit {
  readonly kind: 'submit';
  readonly id: number;
  readonly spec: JobSpec;
  readonly tenant: string;
  readonly key: string;
  readonly keyHash: number;
  readonly specDigest: string;
  readonly done: (outcome: SubmitOutcome) => void;
  readonly avoid: Set<PeerIdStr>;
  tries: number;
  /** The peer the current try was sent to (owner or contact). */
  target: PeerIdStr | null;
  /** The owner, once a contact or the owner told us. */
  owner: PeerIdStr | null;
  acked: boolean;
  jobIdHint: string | undefined;
  /** The peer that already let one try go unanswered (asked again once before it is avoided). */
  silentOnce: PeerIdStr | null;
  /** Set for a re-placement: the job to move and the copy it replaces. */
  readonly replace: ReplaceTarget | null;
  deadlineMs: Millis;
  finished: boolean;
}

interface EntryLocate {
  readonly kind: 'locate';
  readonly id: number;
  readonly jobId: string;
  readonly keyHash: number;
  readonly done: (outcome: LocateOutcome) => void;
  readonly avoid: Set<PeerIdStr>;
  tries: number;
  target: PeerIdStr | null;
  deadlineMs: Millis;
  finished: boolean;
}

interface Waiter {
  readonly entry: PeerIdStr;
  readonly id: number;
}

/** A placement this node coordinates as the key's owner. */
interface OwnedPlacement {
  readonly kind: 'owned';
  readonly attempt: PlacementAttempt;
  readonly waiters: Waiter[];
  /** Request id of the outstanding ask, -1 when none. */
  pendingId: number;
  finished: boolean;
  /** A re-placement: the binding to restore if it fails (null for a first placement). */
  readonly previous: Binding | null;
}

/** A routed placement this node runs inside its cell as a contact. */
interface ContactPlacement {
  readonly kind: 'contact';
  readonly attempt: PlacementAttempt;
  readonly from: PeerIdStr;
  readonly id: number;
  pendingId: number;
  finished: boolean;
}

type Session = EntrySubmit | EntryLocate | OwnedPlacement | ContactPlacement;

interface PendingAsk {
  readonly session: OwnedPlacement | ContactPlacement;
  readonly seq: number;
  readonly to: PeerIdStr;
  readonly kind: 'admit' | 'route';
}

interface Inbound {
  readonly from: PeerIdStr;
  readonly msg: PlacementMessage;
}

/**
 * The placement protocol of one node, sans-I/O: every role in one state machine, driven by
 * `submit` / `locate` (local callers), `onMessage`, `onSendFailed` and `onTimer`. It sends
 * through the outbox and never reads a clock; the agent and the simulator run it unchanged.
 *
 * Roles: *entry* (takes a caller's job, finds the key's owner, retries owners), *owner*
 * (serialises per key, binds key → job, runs the PlacementAttempt), *contact* (places a job
 * routed to its cell), *host* (admits through HostAdmission). Messages to itself are queued
 * and handled after the current handler returns, so no handler re-enters another.
 */
export class PlacementNode {
  readonly self: PeerIdStr;
  readonly registry: OwnerRegistry;
  readonly stats: PlacementStats = emptyPlacementStats();
  private readonly opts: PlacementOptions;
  private readonly view: PlacementView;
  private readonly rng: Rng;
  private readonly outbox: PlacementOutbox;
  private readonly admission: HostAdmission | null;
  private readonly bindingStore: BindingPersistence | null;
  private readonly digest: (spec: JobSpec) => string;
  private readonly metrics: PlacementMetrics | null;
  private readonly attemptModules: AttemptModules;
  private readonly overlay: ReservationOverlay;
  private readonly timers = new DeadlineQueue<Session>();
  /** `timers`' earliest deadline: drivers read it after every call (the simulator, after every event of every host), and a field is one object touched fewer. */
  private nextWakeMs: Millis = Infinity;
  private readonly entries = new Map<number, EntrySubmit | EntryLocate>();
  private readonly owned = new Map<string, OwnedPlacement>();
  private readonly contacts = new Set<ContactPlacement>();
  private readonly pendingAsks = new Map<number, PendingAsk>();
  private readonly local: Inbound[] = [];
  /** Job id → the request (entry/id) that created it, so that request's own resends are not told "duplicate". Bounded. */
  private readonly creators = new Map<string, string>();
  /** Addresses entries sent with their submits and locates, to answer them from another cell (bounded, oldest first out). */
  private readonly entryAddrs = new Map<PeerIdStr, readonly string[]>();
  private draining = false;
  private nextId: number;

  constructor(opts: PlacementOptions, modules: PlacementNodeModules) {
    this.opts = opts;
    this.view = modules.view;
    this.self = modules.view.self;
    this.rng = modules.rng;
    this.outbox = modules.outbox;
    this.admission = modules.admission;
    this.bindingStore = modules.bindings;
    this.registry = modules.registry ?? new OwnerRegistry();
    this.digest = modules.specDigest ?? placementSpecDigest;
    this.metrics = modules.metrics;
    this.overlay = new ReservationOverlay(opts);
    this.attemptModules = { view: this.view, rng: this.rng, selector: new HostSelector(opts), overlay: this.overlay };
    // Request ids start at a random point so answers meant for a previous incarnation rarely match.
    this.nextId = this.rng.int(0x7fffffff);
  }

  /** Placements and routed jobs in flight here. */
  get active(): number {
    return this.owned.size + this.contacts.size;
  }

  /** Local callers waiting for an answer. */
  get waiting(): number {
    return this.entries.size;
  }

  // ── entry role ─────────────────────────────────────────────────────────────────────────

  /**
   * Places `spec` somewhere in the cluster; `done` is called exactly once. A spec without an
   * idempotency key gets one here, so the node's own retries stay exactly-once.
   */
  submit(spec: JobSpec, now: Millis, done: (outcome: SubmitOutcome) => void): void {
    const keyed: JobSpec = spec.idempotencyKey !== undefined ? spec : { ...spec, idempotencyKey: `auto-${placementJobId(now, this.rng.int(0x7fffffff), this.rng)}` };
    const key = keyed.idempotencyKey!;
    // The spec rides in every submit, route and admit: refuse up front what could never be sent.
    const specBytes = JSON.stringify(keyed).length;
    if (specBytes > this.opts.maxMessageBytes - SPEC_ENVELOPE_BYTES) {
      done({
        type: 'failed',
        code: 'PLACEMENT_MESSAGE_TOO_LARGE',
        message: `job spec of ${specBytes} bytes is over the ${this.opts.maxMessageBytes - SPEC_ENVELOPE_BYTES}-byte limit for placement messages`,
        asks: 0,
      });
      return;
    }
    this.stats.submits++;
    this.startSubmit(keyed, key, null, now, done);
  }

  /**
   * Moves an existing job off `target.fromHost` (its host failed, or drains): the key's owner
   * places the same job id at a higher epoch on another host, updates its binding and tells
   * the old host to release its copy. Idempotent: a job already moved is answered with where
   * it runs (`duplicate: true`). `spec` is the job's spec, idempotency key included.
   */
  replace(spec: JobSpec, target: ReplaceTarget, now: Millis, done: (outcome: SubmitOutcome) => void): void {
    const key = spec.idempotencyKey;
    if (key === undefined || keyHashOfJobId(target.jobId) !== keyHashOf(spec.tenant, key)) {
      done({ type: 'failed', code: 'PLACEMENT_BAD_REQUEST', message: `job ${target.jobId} has no idempotency key matching its id: it cannot be re-placed`, asks: 0 });
      return;
    }
    this.startSubmit(spec, key, target, now, done);
  }

  /** Finds a job's host from its id alone, by asking the owner of the key hash the id embeds. */
  locate(jobId: string, now: Millis, done: (outcome: LocateOutcome) => void): void {
    const keyHash = keyHashOfJobId(jobId);
    if (keyHash === null) {
      done({ type: 'failed', jobId, code: 'PLACEMENT_INVALID_JOB_ID', message: `"${jobId}" is not a placement job id` });
      return;
    }
    const s: EntryLocate = { kind: 'locate', id: this.newId(), jobId, keyHash, done, avoid: new Set(), tries: 0, target: null, deadlineMs: now, finished: false };
    this.entries.set(s.id, s);
    this.sendLocate(s, now);
    this.drain(now);
  }

  // ── driver callbacks ───────────────────────────────────────────────────────────────────

  /** A decoded message from a peer (the driver decodes with `decodePlacementMessage` and drops what fails). */
  onMessage(from: PeerIdStr, msg: PlacementMessage, now: Millis): void {
    this.local.push({ from, msg });
    this.drain(now);
  }

  /** The driver could not deliver `msg` to `to` (dial or stream failure). */
  onSendFailed(to: PeerIdStr, msg: PlacementMessage, now: Millis): void {
    this.sendFailed(to, msg, null, now);
    this.drain(now);
  }

  onTimer(now: Millis): void {
    for (let s = this.timers.popDue(now); s !== undefined; s = this.timers.popDue(now)) {
      if (s.finished) continue;
      switch (s.kind) {
        case 'submit':
          if (now >= s.deadlineMs) this.submitTimedOut(s, now, false);
          break;
        case 'locate':
          if (now >= s.deadlineMs) this.locateTimedOut(s, now);
          break;
        case 'owned':
        case 'contact':
          this.pump(s, now);
          break;
      }
    }
    this.nextWakeMs = this.timers.peekAt();
    this.drain(now);
  }

  /** When `onTimer` next wants to run; Infinity when idle. */
  nextTimerAtMs(): Millis {
    return this.nextWakeMs;
  }

  // ── dispatch ───────────────────────────────────────────────────────────────────────────

  private drain(now: Millis): void {
    if (this.draining) return;
    this.draining = true;
    try {
      for (let i = 0; i < this.local.length; i++) this.handle(this.local[i]!.from, this.local[i]!.msg, now);
    } finally {
      this.local.length = 0;
      this.draining = false;
    }
  }

  private handle(from: PeerIdStr, msg: PlacementMessage, now: Millis): void {
    switch (msg.t) {
      case 'submit':
        this.learnEntry(msg.entry, msg.entryAddrs);
        return this.onSubmit(from, msg, now);
      case 'submit-ack': {
        const s = this.entries.get(msg.id);
        if (s === undefined || s.kind !== 'submit' || s.finished) return;
        if (msg.jobId === undefined) {
          // A contact forwarded it: now we know the owner to avoid if it stays silent.
          s.owner = msg.owner;
          this.arm(s, now + this.opts.submitAckTimeoutMs);
        } else {
          s.acked = true;
          s.owner = msg.owner;
          s.jobIdHint = msg.jobId;
          this.arm(s, now + this.opts.submitResultTimeoutMs);
        }
        return;
      }
      case 'submit-result': {
        const s = this.entries.get(msg.id);
        if (s === undefined || s.kind !== 'submit' || s.finished) return;
        this.finishSubmit(s, msg.outcome);
        return;
      }
      case 'route':
        return this.onRoute(from, msg, now);
      case 'route-result':
        return this.onAnswer(from, msg.id, { type: 'route', outcome: msg.outcome }, now);
      case 'admit':
        return this.onAdmit(from, msg, now);
      case 'admit-result':
        return this.onAnswer(from, msg.id, { type: 'admit', result: msg.result }, now);
      case 'release':
        if (this.admission !== null) {
          this.admission.release(msg.jobId, msg.epoch, now);
          this.stats.releases++;
          this.metrics?.releases.inc({});
        }
        return;
      case 'locate':
        this.learnEntry(msg.entry, msg.entryAddrs);
        return this.onLocate(from, msg, now);
      case 'locate-result': {
        const s = this.entries.get(msg.id);
        if (s === undefined || s.kind !== 'locate' || s.finished) return;
        this.finishLocate(
          s,
          msg.binding === null ? { type: 'not-found', jobId: s.jobId } : { type: 'found', jobId: s.jobId, host: msg.binding.host, epoch: msg.binding.epoch, state: msg.binding.state },
        );
        return;
      }
    }
  }

  private learnEntry(entry: PeerIdStr, addrs: readonly string[] | undefined): void {
    if (addrs === undefined || addrs.length === 0 || entry === this.self) return;
    this.entryAddrs.delete(entry);
    this.entryAddrs.set(entry, addrs);
    if (this.entryAddrs.size > MAX_ENTRY_ADDRS_REMEMBERED) this.entryAddrs.delete(this.entryAddrs.keys().next().value!);
  }

  /** Our own addresses, sent with submits and locates so the owner can answer us from another cell. */
  private ownAddrs(): { entryAddrs?: string[] } {
    const addrs = this.view.cellMember(this.self)?.record.addrs;
    return addrs !== undefined && addrs.length > 0 ? { entryAddrs: addrs.slice(0, MAX_ENTRY_ADDRS) } : {};
  }

  private post(to: PeerIdStr, msg: PlacementMessage, now: Millis, addrs?: readonly string[]): void {
    if (to === this.self) {
      this.local.push({ from: to, msg });
      return;
    }
    try {
      this.outbox.send(to, msg, addrs ?? this.entryAddrs.get(to));
    } catch (err) {
      this.sendFailed(to, msg, err, now);
    }
  }

  private sendFailed(to: PeerIdStr, msg: PlacementMessage, err: unknown, now: Millis): void {
    const fatal = err instanceof PlacementError && err.code === 'PLACEMENT_MESSAGE_TOO_LARGE' ? err : null;
    switch (msg.t) {
      case 'submit': {
        const s = this.entries.get(msg.id);
        if (s === undefined || s.kind !== 'submit' || s.finished || msg.entry !== this.self) return;
        if (fatal !== null) {
          this.finishSubmit(s, { type: 'failed', code: fatal.code, message: `job spec too large to send: ${fatal.message}`, asks: 0 });
          return;
        }
        this.submitTimedOut(s, now, true);
        return;
      }
      case 'locate': {
        const s = this.entries.get(msg.id);
        if (s !== undefined && s.kind === 'locate' && !s.finished && msg.entry === this.self) this.locateTimedOut(s, now);
        return;
      }
      case 'admit':
      case 'route': {
        const p = this.pendingAsks.get(msg.id);
        if (p === undefined || p.to !== to) return;
        // Too large or undeliverable alike: this target cannot take it, the attempt moves on.
        this.onAnswer(to, msg.id, { type: 'unreachable' }, now);
        return;
      }
      default:
        // Answers and releases: the requester times out and retries; nothing to undo here.
        return;
    }
  }

  private newId(): number {
    this.nextId = (this.nextId + 1) >>> 0;
    return this.nextId;
  }

  private arm(s: Session & { deadlineMs: Millis }, atMs: Millis): void {
    s.deadlineMs = atMs;
    this.wakeAt(atMs, s);
  }

  private wakeAt(atMs: Millis, s: Session): void {
    this.timers.push(atMs, s);
    if (atMs < this.nextWakeMs) this.nextWakeMs = atMs;
  }

  // ── entry: submit and locate sessions ──────────────────────────────────────────────────

  /** An entry session for `spec` under idempotency key `key` (a re-placement when `replace` is set), sent at once. */
  private startSubmit(spec: JobSpec, key: string, replace: ReplaceTarget | null, now: Millis, done: (outcome: SubmitOutcome) => void): void {
    const s: EntrySubmit = {
      kind: 'submit',
      id: this.newId(),
      spec,
      tenant: spec.tenant,
      key,
      keyHash: keyHashOf(spec.tenant, key),
      specDigest: this.digest(spec),
      done,
      avoid: new Set(),
      tries: 0,
      target: null,
      owner: null,
      acked: false,
      jobIdHint: undefined,
      silentOnce: null,
      replace,
      deadlineMs: now,
      finished: false,
    };
    this.entries.set(s.id, s);
    this.sendSubmit(s, now);
    this.drain(now);
  }

  private sendSubmit(s: EntrySubmit, now: Millis): void {
    s.tries++;
    s.acked = false;
    s.owner = null;
    const route = routeToOwner(s.keyHash, this.view, this.rng, s.avoid);
    if (route.type === 'none') {
      this.finishSubmit(s, {
        type: 'failed',
        code: 'PLACEMENT_OWNER_UNREACHABLE',
        message: route.unheard
          ? unheardCellMessage(route.cell, `idempotency key "${s.key}"`, this.self)
          : `no reachable owner for idempotency key "${s.key}" in cell ${route.cell} (${s.avoid.size} peer${s.avoid.size === 1 ? '' : 's'} did not answer)`,
        asks: 0,
      });
      return;
    }
    const to = route.type === 'self' ? this.self : route.to;
    s.target = to;
    this.arm(s, now + this.opts.submitAckTimeoutMs);
    const msg: SubmitMessage = {
      v: PLACEMENT_PROTOCOL_VERSION,
      t: 'submit',
      id: s.id,
      entry: this.self,
      ...this.ownAddrs(),
      tenant: s.tenant,
      key: s.key,
      spec: s.spec,
      specDigest: s.specDigest,
      hops: 0,
      avoid: this.listed(s.avoid),
      ...(s.jobIdHint !== undefined ? { jobIdHint: s.jobIdHint } : {}),
      ...(s.replace !== null ? { replace: s.replace } : {}),
    };
    this.post(to, msg, now, addrsOf(route));
  }

  /**
   * No ack or outcome in time (`undeliverable`: the send itself failed). Moving to the next
   * owner is what can break exactly-once (a merely slow owner still places the job), so the
   * entry only avoids a peer that is unreachable, that gossip no longer holds alive, or that
   * acked and then never answered; a slow but alive owner is asked again (it deduplicates).
   */
  private submitTimedOut(s: EntrySubmit, now: Millis, undeliverable: boolean): void {
    const silent = s.owner ?? s.target;
    const status = silent === null ? undefined : this.view.cellMember(silent)?.status;
    const presumedAlive = status === undefined || status === 'alive';
    // One silence from a peer gossip holds alive earns it a second chance; a second one does not.
    const secondSilence = silent !== null && s.silentOnce === silent;
    if (silent !== null && silent !== this.self && (undeliverable || s.acked || !presumedAlive || secondSilence)) s.avoid.add(silent);
    else s.silentOnce = silent;
    this.stats.timeouts++;
    if (s.tries < this.opts.submitMaxTries) {
      this.sendSubmit(s, now);
      return;
    }
    this.finishSubmit(
      s,
      s.acked
        ? {
            type: 'failed',
            code: 'PLACEMENT_TIMEOUT',
            message: `no outcome for job ${s.spec.name} after ${s.tries} owner${s.tries === 1 ? '' : 's'} tried; it may have been placed: submit again with idempotency key "${s.key}"`,
            asks: 0,
          }
        : {
            type: 'failed',
            code: 'PLACEMENT_OWNER_UNREACHABLE',
            message: `the owner of idempotency key "${s.key}" did not answer (${s.tries} tried)`,
            asks: 0,
          },
    );
  }

  private finishSubmit(s: EntrySubmit, outcome: SubmitOutcome): void {
    if (s.finished) return;
    s.finished = true;
    this.entries.delete(s.id);
    // After our own resend to another owner, a host's ledger answers "duplicate" for the copy
    // our first try placed: from the caller's side this request created the job.
    if (outcome.type === 'placed' && outcome.duplicate && s.tries > 1) {
      s.done({ ...outcome, duplicate: false });
      return;
    }
    s.done(outcome);
  }

  private sendLocate(s: EntryLocate, now: Millis): void {
    s.tries++;
    const route = routeToOwner(s.keyHash, this.view, this.rng, s.avoid);
    if (route.type === 'none') {
      const message = route.unheard ? unheardCellMessage(route.cell, `job ${s.jobId}`, this.self) : `no reachable owner for job ${s.jobId}`;
      this.finishLocate(s, { type: 'failed', jobId: s.jobId, code: 'PLACEMENT_OWNER_UNREACHABLE', message });
      return;
    }
    const to = route.type === 'self' ? this.self : route.to;
    s.target = to;
    this.arm(s, now + this.opts.submitAckTimeoutMs);
    const msg: LocateMessage = { v: PLACEMENT_PROTOCOL_VERSION, t: 'locate', id: s.id, entry: this.self, ...this.ownAddrs(), jobId: s.jobId, hops: 0, avoid: this.listed(s.avoid) };
    this.post(to, msg, now, addrsOf(route));
  }

  private locateTimedOut(s: EntryLocate, now: Millis): void {
    if (s.target !== null && s.target !== this.self) s.avoid.add(s.target);
    if (s.tries < this.opts.submitMaxTries) {
      this.sendLocate(s, now);
      return;
    }
    this.finishLocate(s, { type: 'failed', jobId: s.jobId, code: 'PLACEMENT_OWNER_UNREACHABLE', message: `the owner of job ${s.jobId} did not answer (${s.tries} tried)` });
  }

  private finishLocate(s: EntryLocate, outcome: LocateOutcome): void {
    if (s.finished) return;
    s.finished = true;
    this.entries.delete(s.id);
    s.done(outcome);
  }

  // ── owner role ─────────────────────────────────────────────────────────────────────────

  private onSubmit(from: PeerIdStr, msg: SubmitMessage, now: Millis): void {
    const keyHash = keyHashOf(msg.tenant, msg.key);
    const route = routeToOwner(keyHash, this.view, this.rng, this.avoidable(msg.avoid));
    // Inside the key's cell each forward goes to a member of higher rendezvous weight, so it
    // cannot loop and gets extra hops; at 20k hosts, contacts whose budget was spent by relays
    // placed keys their owner placed too.
    if (msg.hops < this.hopLimit(route) && route.type !== 'self' && route.type !== 'none' && route.to !== from && route.to !== msg.entry) {
      this.stats.forwards++;
      this.metrics?.forwards.inc({ kind: 'submit' });
      if (route.type === 'owner' && msg.entry !== this.self) {
        this.post(msg.entry, { v: PLACEMENT_PROTOCOL_VERSION, t: 'submit-ack', id: msg.id, owner: route.to }, now);
      }
      this.post(route.to, { ...msg, hops: msg.hops + 1 }, now, addrsOf(route));
      return;
    }
    if (route.type === 'relay' || route.type === 'contact' || (route.type === 'none' && route.unheard)) {
      // Owning a key of another cell, or of a cell we have not heard of, would give it a second owner.
      const message =
        route.type === 'contact'
          ? `idempotency key "${msg.key}" reached ${this.self}, outside its cell ${route.cell}, with no onward route left (${msg.hops} forwards); retry with the same key`
          : unheardCellMessage(route.cell, `idempotency key "${msg.key}"`, this.self);
      this.answerSubmit({ entry: msg.entry, id: msg.id }, { type: 'failed', code: 'PLACEMENT_OWNER_UNREACHABLE', message, asks: 0 }, now);
      return;
    }
    // We own the key (or forwarding ran out of hops: coordinating here beats dropping it).
    if (this.active >= this.opts.maxActivePlacements) {
      this.answerSubmit({ entry: msg.entry, id: msg.id }, { type: 'failed', code: 'PLACEMENT_OVERLOADED', message: `node ${this.self} coordinates ${this.active} placements already`, asks: 0 }, now);
      return;
    }
    if (msg.replace !== undefined) {
      this.onReplace(msg, msg.replace, keyHash, now);
      return;
    }
    const r = this.registry.begin(
      { tenant: msg.tenant, key: msg.key, keyHash, specDigest: msg.specDigest, jobIdHint: msg.jobIdHint },
      now,
      () => placementJobId(now, keyHash, this.rng),
    );
    const waiter: Waiter = { entry: msg.entry, id: msg.id };
    switch (r.type) {
      case 'conflict':
        this.answerSubmit(
          waiter,
          {
            type: 'failed',
            code: 'PLACEMENT_IDEMPOTENCY_CONFLICT',
            message: `idempotency key "${msg.key}" of tenant ${msg.tenant} is already bound to job ${r.binding.jobId} with a different spec`,
            asks: 0,
          },
          now,
        );
        return;
      case 'placed': {
        const resend = this.creators.get(r.binding.jobId) === requestKey(waiter);
        this.countResult('duplicate');
        this.answerSubmit(waiter, placedOutcome(r.binding, !resend, 0), now);
        return;
      }
      case 'in-progress':
        this.awaitOwned(waiter, msg, r.binding.jobId, now);
        return;
      case 'start':
        this.startOwned(waiter, msg, r.binding, [], null, now);
        return;
    }
  }

  /** The owner side of a re-placement: serialised per key with submits, like them answered to the entry. */
  private onReplace(msg: SubmitMessage, target: ReplaceTarget, keyHash: number, now: Millis): void {
    const waiter: Waiter = { entry: msg.entry, id: msg.id };
    if (keyHashOfJobId(target.jobId) !== keyHash) {
      this.answerSubmit(waiter, { type: 'failed', code: 'PLACEMENT_BAD_REQUEST', message: `job id ${target.jobId} does not belong to key "${msg.key}"`, asks: 0 }, now);
      return;
    }
    const req = { tenant: msg.tenant, key: msg.key, keyHash, specDigest: msg.specDigest, jobId: target.jobId, fromHost: target.fromHost, fromEpoch: target.fromEpoch, driver: target.driver };
    if (target.bindOnly === true) {
      this.onBind(waiter, msg, req, now);
      return;
    }
    const r = this.registry.beginReplace(req, now);
    switch (r.type) {
      case 'conflict':
        this.answerSubmit(
          waiter,
          {
            type: 'failed',
            code: 'PLACEMENT_IDEMPOTENCY_CONFLICT',
            message: `idempotency key "${msg.key}" of tenant ${msg.tenant} is bound to job ${r.binding.jobId}, not to job ${target.jobId} with this spec`,
            asks: 0,
          },
          now,
        );
        return;
      case 'placed':
        this.countResult('duplicate');
        this.answerSubmit(waiter, placedOutcome(r.binding, true, 0), now);
        return;
      case 'in-progress':
        this.awaitOwned(waiter, msg, r.binding.jobId, now);
        return;
      case 'start':
        this.startOwned(waiter, msg, r.binding, [target.fromHost], r.previous, now);
        return;
    }
  }

  /** A submit (or re-placement) of a key whose placement runs here already: it waits for the same outcome. */
  private awaitOwned(waiter: Waiter, msg: SubmitMessage, jobId: string, now: Millis): void {
    const p = this.owned.get(jobId);
    if (p === undefined) {
      // Cannot happen: the registry marks running only what `owned` holds.
      this.answerSubmit(waiter, { type: 'failed', code: 'PLACEMENT_TIMEOUT', message: `placement of job ${jobId} was lost; submit again`, asks: 0 }, now);
      return;
    }
    p.waiters.push(waiter);
    this.post(msg.entry, { v: PLACEMENT_PROTOCOL_VERSION, t: 'submit-ack', id: msg.id, owner: this.self, jobId }, now);
  }

  /** The registry bound the key here: run the placement as its owner (`previous`: the binding a re-placement restores if it fails). */
  private startOwned(waiter: Waiter, msg: SubmitMessage, b: Binding, exclude: readonly PeerIdStr[], previous: Binding | null, now: Millis): void {
    const attempt = new PlacementAttempt(
      this.opts,
      this.attemptModules,
      { jobId: b.jobId, epoch: b.epoch, spec: msg.spec, specDigest: msg.specDigest, demand: demandOf(msg.spec) },
      { scope: 'cluster', now, exclude },
    );
    const p: OwnedPlacement = { kind: 'owned', attempt, waiters: [waiter], pendingId: -1, finished: false, previous };
    this.owned.set(b.jobId, p);
    this.creators.set(b.jobId, requestKey(waiter));
    if (this.creators.size > MAX_CREATORS_REMEMBERED) this.creators.delete(this.creators.keys().next().value!);
    this.post(msg.entry, { v: PLACEMENT_PROTOCOL_VERSION, t: 'submit-ack', id: msg.id, owner: this.self, jobId: b.jobId }, now);
    this.pump(p, now);
  }

  /**
   * The peers an entry asked us to avoid, minus the members of our cell we still hold alive:
   * an owner that was merely slow to ack is still the key's owner, and placing the key on a
   * successor while it works would make a second job. We take over only from an owner gossip
   * no longer holds alive; a dead owner it has not noticed yet costs the caller a timeout, not
   * a duplicate.
   */
  private avoidable(avoid: readonly PeerIdStr[]): ReadonlySet<PeerIdStr> | null {
    if (avoid.length === 0) return null;
    const out = new Set<PeerIdStr>();
    for (const p of avoid) {
      const m = this.view.cellMember(p);
      if (m === undefined || m.status !== 'alive') out.add(p);
    }
    return out.size === 0 ? null : out;
  }

  /** `bindOnly`: record where the job lives (durably), answer with the binding as it stands. */
  private onBind(waiter: Waiter, msg: SubmitMessage, req: ReplaceRequest, now: Millis): void {
    const r = this.registry.bind(req, now);
    const b = r.binding;
    if (r.type === 'conflict') {
      this.answerSubmit(waiter, { type: 'failed', code: 'PLACEMENT_IDEMPOTENCY_CONFLICT', message: `idempotency key "${msg.key}" of tenant ${msg.tenant} is bound to job ${b.jobId}, not to job ${req.jobId} with this spec`, asks: 0 }, now);
      return;
    }
    if (b.state !== 'placed' || b.host === null || b.driver === null) {
      this.answerSubmit(waiter, { type: 'failed', code: 'PLACEMENT_TIMEOUT', message: `job ${b.jobId} is being placed; ask again`, asks: 0 }, now);
      return;
    }
    if (this.bindingStore === null) {
      this.answerSubmit(waiter, placedOutcome(b, true, 0), now);
      return;
    }
    this.bindingStore.save(b, (_err, t) => {
      this.answerSubmit(waiter, placedOutcome(b, true, 0), t);
      this.drain(t);
    });
  }

  private answerSubmit(w: Waiter, outcome: SubmitOutcome, now: Millis): void {
    this.post(w.entry, { v: PLACEMENT_PROTOCOL_VERSION, t: 'submit-result', id: w.id, outcome }, now);
  }

  private finishOwned(p: OwnedPlacement, outcome: AttemptOutcome, now: Millis): void {
    p.finished = true;
    const jobId = p.attempt.job.jobId;
    this.owned.delete(jobId);
    this.stats.asks += outcome.asks;
    if (outcome.asks > 1) {
      this.stats.retries += outcome.asks - 1;
      this.metrics?.retries.inc({}, outcome.asks - 1);
    }
    if (outcome.type !== 'placed') {
      if (p.previous !== null) this.registry.restore(p.previous, p.attempt.epoch);
      else this.registry.abandon(jobId);
      this.countResult(outcome.type);
      if (outcome.type === 'refused') this.metrics?.refusals.inc({ reason: topReason(outcome.reasons) });
      for (const w of p.waiters) this.answerSubmit(w, outcome, now);
      return;
    }
    const binding = this.registry.complete(jobId, { host: outcome.host, epoch: outcome.epoch, driver: outcome.driver, admittedJobId: outcome.jobId }, now);
    this.countResult(outcome.duplicate ? 'duplicate' : 'placed');
    const creator = this.creators.get(jobId);
    if (creator !== undefined && binding.jobId !== jobId) this.creators.set(binding.jobId, creator);
    const answer = (t: Millis): void => {
      // Only the request that started the placement (and its own resends) is told "created".
      p.waiters.forEach((w) => this.answerSubmit(w, placedOutcome(binding, outcome.duplicate || requestKey(w) !== creator, outcome.asks), t));
      // A moved job: the old host stops its copy now if it is alive (drain), or fences it when it returns.
      const old = p.previous?.host ?? null;
      if (old !== null && old !== binding.host) {
        this.stats.releases++;
        this.metrics?.releases.inc({});
        this.post(old, { v: PLACEMENT_PROTOCOL_VERSION, t: 'release', jobId: binding.jobId, epoch: binding.epoch - 1 }, t);
      }
    };
    if (this.bindingStore === null) {
      answer(now);
      return;
    }
    // The job is durable on its host already; the binding write makes the owner's memory of it
    // durable too, so a restarted owner answers "duplicate" instead of placing the key again.
    this.bindingStore.save(binding, (_err, t) => {
      answer(t);
      this.drain(t);
    });
  }

  private countResult(result: 'placed' | 'duplicate' | 'refused' | 'failed'): void {
    if (result === 'placed') this.stats.placed++;
    else if (result === 'duplicate') this.stats.duplicates++;
    else if (result === 'refused') this.stats.refused++;
    else this.stats.failed++;
    this.metrics?.placements.inc({ result });
  }

  // ── coordinator and contact: running attempts ──────────────────────────────────────────

  private pump(p: OwnedPlacement | ContactPlacement, now: Millis): void {
    if (p.finished) return;
    const step = p.attempt.next(now);
    if (step.type !== 'wait' && p.pendingId >= 0) {
      // The attempt timed the outstanding ask out itself; an answer arriving later is "late".
      this.pendingAsks.delete(p.pendingId);
      p.pendingId = -1;
    }
    switch (step.type) {
      case 'wait':
        this.wakeAt(step.untilMs, p);
        return;
      case 'done':
        this.stats.timeouts += p.attempt.timeouts;
        if (p.kind === 'owned') this.finishOwned(p, step.outcome, now);
        else this.finishContact(p, step.outcome, now);
        return;
      case 'ask': {
        const ask = step.ask;
        const id = this.newId();
        p.pendingId = id;
        this.pendingAsks.set(id, { session: p, seq: ask.seq, to: ask.to, kind: ask.kind });
        this.wakeAt(Math.min(now + ask.timeoutMs, p.attempt.deadline), p);
        const job = p.attempt.job;
        if (ask.kind === 'admit') {
          const msg: AdmitMessage = { v: PLACEMENT_PROTOCOL_VERSION, t: 'admit', id, jobId: ask.jobId, epoch: ask.epoch, spec: job.spec, specDigest: job.specDigest };
          this.post(ask.to, msg, now);
        } else {
          const msg: RouteMessage = {
            v: PLACEMENT_PROTOCOL_VERSION,
            t: 'route',
            id,
            jobId: ask.jobId,
            epoch: ask.epoch,
            spec: job.spec,
            specDigest: job.specDigest,
            maxAsks: ask.maxAsks,
            exclude: [...ask.exclude],
            budgetMs: Math.max(1, Math.floor(ask.budgetMs)),
          };
          this.post(ask.to, msg, now, ask.addrs);
        }
        return;
      }
    }
  }

  private onAnswer(from: PeerIdStr, id: number, answer: AttemptAnswer, now: Millis): void {
    const pending = this.pendingAsks.get(id);
    if (pending === undefined || pending.to !== from) {
      this.lateAnswer(from, answer, now);
      return;
    }
    this.pendingAsks.delete(id);
    if (pending.session.pendingId === id) pending.session.pendingId = -1;
    this.metrics?.asks.inc({ kind: pending.kind, answer: answerLabel(answer) });
    const applied = pending.session.attempt.onAnswer(pending.seq, answer, now);
    if (!applied) {
      this.lateAnswer(from, answer, now);
      return;
    }
    this.pump(pending.session, now);
  }

  /**
   * An answer to an ask we gave up on (timed out, or the placement finished). If it admitted
   * the job somewhere other than where the owner bound it, release that reservation so the
   * capacity is not leaked; the epoch keeps the release from touching a newer placement.
   */
  private lateAnswer(from: PeerIdStr, answer: AttemptAnswer, now: Millis): void {
    let host: PeerIdStr | null = null;
    let jobId = '';
    let epoch = 0;
    if (answer.type === 'admit' && answer.result.type === 'accepted') {
      host = from;
      jobId = answer.result.jobId;
      epoch = answer.result.epoch;
    } else if (answer.type === 'route' && answer.outcome.type === 'placed') {
      host = answer.outcome.host;
      jobId = answer.outcome.jobId;
      epoch = answer.outcome.epoch;
    }
    if (host === null) return;
    const b = this.registry.byJobId(jobId);
    if (b !== undefined && b.state === 'placed' && b.host === host) return;
    this.stats.releases++;
    this.metrics?.releases.inc({});
    this.post(host, { v: PLACEMENT_PROTOCOL_VERSION, t: 'release', jobId, epoch }, now);
  }

  // ── contact role ───────────────────────────────────────────────────────────────────────

  private onRoute(from: PeerIdStr, msg: RouteMessage, now: Millis): void {
    if (this.active >= this.opts.maxActivePlacements) {
      this.post(from, {
        v: PLACEMENT_PROTOCOL_VERSION,
        t: 'route-result',
        id: msg.id,
        jobId: msg.jobId,
        outcome: { type: 'failed', code: 'PLACEMENT_OVERLOADED', message: `contact ${this.self} coordinates ${this.active} placements already`, asks: 0 },
      }, now);
      return;
    }
    const attempt = new PlacementAttempt(
      this.opts,
      this.attemptModules,
      { jobId: msg.jobId, epoch: msg.epoch, spec: msg.spec, specDigest: msg.specDigest, demand: demandOf(msg.spec) },
      { scope: 'own-cell', now, maxAsks: msg.maxAsks, budgetMs: msg.budgetMs, exclude: msg.exclude },
    );
    const c: ContactPlacement = { kind: 'contact', attempt, from, id: msg.id, pendingId: -1, finished: false };
    this.contacts.add(c);
    this.pump(c, now);
  }

  private finishContact(c: ContactPlacement, outcome: AttemptOutcome, now: Millis): void {
    c.finished = true;
    this.contacts.delete(c);
    this.post(c.from, { v: PLACEMENT_PROTOCOL_VERSION, t: 'route-result', id: c.id, jobId: c.attempt.job.jobId, outcome }, now);
  }

  // ── host role ──────────────────────────────────────────────────────────────────────────

  private onAdmit(from: PeerIdStr, msg: AdmitMessage, now: Millis): void {
    const reply = (result: AdmitResult, t: Millis): void => {
      if (result.type === 'accepted') {
        this.stats.admitted++;
        this.metrics?.admissions.inc({ result: result.duplicate ? 'duplicate' : 'accepted' });
      } else {
        this.stats.rejected++;
        this.metrics?.admissions.inc({ result: 'rejected' });
      }
      this.post(from, { v: PLACEMENT_PROTOCOL_VERSION, t: 'admit-result', id: msg.id, result }, t);
    };
    if (this.admission === null) {
      reply({ type: 'rejected', code: 'PLACEMENT_HOST_UNAVAILABLE', reason: 'unhealthy', message: `${this.self} does not run jobs`, free: { vcpus: 0, memoryMiB: 0, diskGiB: 0 } }, now);
      return;
    }
    this.admission.admit({ jobId: msg.jobId, epoch: msg.epoch, spec: msg.spec, specDigest: msg.specDigest }, now, (result, t) => {
      reply(result, t);
      this.drain(t);
    });
  }

  // ── locate (owner side) ────────────────────────────────────────────────────────────────

  /** Forwards a request may have taken before this node may forward it along `route`. */
  private hopLimit(route: OwnerRoute): number {
    return this.opts.maxForwardHops + (route.type === 'owner' ? IN_CELL_OWNER_HOPS : 0);
  }

  private onLocate(from: PeerIdStr, msg: LocateMessage, now: Millis): void {
    const keyHash = keyHashOfJobId(msg.jobId);
    if (keyHash === null) return;
    const route = routeToOwner(keyHash, this.view, this.rng, msg.avoid.length === 0 ? null : new Set(msg.avoid));
    if (msg.hops < this.hopLimit(route)) {
      if (route.type !== 'self' && route.type !== 'none' && route.to !== from && route.to !== msg.entry) {
        this.stats.forwards++;
        this.metrics?.forwards.inc({ kind: 'locate' });
        this.post(route.to, { ...msg, hops: msg.hops + 1 }, now, addrsOf(route));
        return;
      }
    }
    const b = this.registry.byJobId(msg.jobId);
    this.post(
      msg.entry,
      {
        v: PLACEMENT_PROTOCOL_VERSION,
        t: 'locate-result',
        id: msg.id,
        jobId: msg.jobId,
        binding: b === undefined ? null : { host: b.host, epoch: b.epoch, state: b.state },
      },
      now,
    );
  }

  private listed(peers: ReadonlySet<PeerIdStr>): PeerIdStr[] {
    const out: PeerIdStr[] = [];
    for (const p of peers) {
      if (out.length >= this.opts.maxListedPeers) break;
      out.push(p);
    }
    return out;
  }
}

/** Entries whose addresses an owner remembers (each answer goes out within seconds of the request). */
const MAX_ENTRY_ADDRS_REMEMBERED = 1024;
/** Request ids that created a job, remembered to answer their resends correctly. */
const MAX_CREATORS_REMEMBERED = 4_096;

function requestKey(w: Waiter): string {
  return `${w.entry}/${w.id}`;
}

function placedOutcome(b: Binding, duplicate: boolean, asks: number): SubmitOutcome {
  return { type: 'placed', jobId: b.jobId, host: b.host!, epoch: b.epoch, driver: b.driver!, duplicate, asks };
}

function answerLabel(a: AttemptAnswer): string {
  switch (a.type) {
    case 'admit':
      return a.result.type;
    case 'route':
      return a.outcome.type === 'placed' ? 'accepted' : 'rejected';
    default:
      return a.type;
  }
}

function topReason(reasons: Partial<Record<string, number>>): string {
  let best = 'none';
  let n = 0;
  for (const r of REFUSAL_REASONS) {
    const c = reasons[r] ?? 0;
    if (c > n) {
      best = r;
      n = c;
    }
  }
  return best;
}

/** Forwards allowed beyond `maxForwardHops` between members of the key's cell (each to a higher rendezvous weight). */
const IN_CELL_OWNER_HOPS = 4;

/** Why a request about a key could not reach its owner yet: the key's cell is unheard of here. */
function unheardCellMessage(cell: number, what: string, at: PeerIdStr): string {
  return `the cell (${cell}) that owns ${what} is not known at ${at} yet (cluster summaries still spreading); retry with the same key`;
}

/** The addresses to dial for a route to another cell (an owner in our cell is already connected). */
function addrsOf(route: OwnerRoute): readonly string[] | undefined {
  return route.type === 'contact' || route.type === 'relay' ? route.addrs : undefined;
}
