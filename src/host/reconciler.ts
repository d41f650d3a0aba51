import type { Clock, Millis, TimerHandle } from '../core/clock.ts';
import { errorMessage } from '../core/errors.ts';
import type { DriverName, JobRecord, JobState } from '../core/job.ts';
import type { PeerIdStr } from '../core/transport.ts';
import { isDriverError, type DriverErrorCode } from './driver-errors.ts';
import type { Driver, DriverCallOptions, ExitInfo, HostLogger, Instance } from './driver.ts';
import type { ImportCallback, JobPatch, JobRepository } from './job-repository.ts';
import type { Metering } from './metering.ts';

/**
 * Drives actual state (what the drivers see) toward desired state (job records). Each pass
 * lists every driver's instances once, then settles each job of this host:
 *  - desired running: create + start when there is no instance; adopt one that is already
 *    running (never a second copy); start again after a host reboot; restart an instance
 *    that died, with exponential back-off, following the spec's restart policy for
 *    process jobs; a failure marks the job `failed` with the driver's message, and
 *    whatever a failed create left is destroyed;
 *  - desired stopped: stop gracefully; desired deleted: stop and destroy;
 *  - an instance of a job that now belongs to another host (re-placed, fenced) is stopped;
 *  - with `importUnknown`, instances no record knows are offered to the import callback.
 * Passes never overlap. Timers come from the injected Clock; driver calls are real I/O.
 */

export interface ReconcilerOptions {
  /** Passed to drivers as DriverJob.dataDir. */
  dataDir: string;
  /** Only records whose `host` is this are reconciled; null reconciles every record (single-host use). */
  hostId: PeerIdStr | null;
  /** Time between passes when nothing is pending. */
  intervalMs: number;
  /** Grace a guest/process gets on stop before it is forced. */
  stopGraceMs: number;
  /** Bound on each driver call (a stop gets this plus its grace). */
  callTimeoutMs: number;
  /** First restart delay after an instance dies. */
  restartBackoffInitialMs: number;
  /** Longest restart delay. */
  restartBackoffMaxMs: number;
  /** An instance that has run this long since its last restart is healthy again: back-off starts over. */
  backoffResetAfterMs: number;
  /** Offer instances no record knows to the import callback on every pass. */
  importUnknown: boolean;
  /** Driver actions (create, start, stop…) run at once within a pass. */
  maxConcurrentActions: number;
}

export const defaultReconcilerOptions: Omit<ReconcilerOptions, 'dataDir' | 'hostId'> = {
  intervalMs: 5_000, // 5 s: a killed VM is noticed within seconds; a pass costs one list per driver
  stopGraceMs: 30_000, // 30 s: enough for a guest OS to shut down cleanly, as libvirt-guests allows
  callTimeoutMs: 60_000, // 60 s: qemu-img on a large backing file or a slow libvirtd can take a while
  restartBackoffInitialMs: 1_000, // 1 s: a one-off crash is back quickly
  restartBackoffMaxMs: 300_000, // 5 min: a crash loop costs little, like Kubernetes' CrashLoopBackOff cap
  backoffResetAfterMs: 60_000, // 1 min of uptime means the last crash was not a loop
  importUnknown: false, // importing is a decision for the operator (config flag)
  maxConcurrentActions: 4, // a slow graceful stop must not hold up every other job
};

export const RECONCILER_EVENT_TYPES = [
  'started',
  'adopted',
  'recovered',
  'restart-scheduled',
  'restarted',
  'exited',
  'stopped',
  'destroyed',
  'failed',
  'fenced',
  'imported',
  'action-failed',
] as const;
export type ReconcilerEventType = (typeof RECONCILER_EVENT_TYPES)[number];

export interface ReconcilerEvent {
  readonly type: ReconcilerEventType;
  readonly jobId: string;
  readonly driver: DriverName;
  readonly atMs: Millis;
  readonly ref?: string;
  readonly reason?: string;
  /** Restart attempt number (1 = first restart). */
  readonly attempt?: number;
  readonly delayMs?: number;
  /** The driver error code, for `failed` and `action-failed`. */
  readonly code?: string;
}

export interface ReconcilerMetrics {
  passesTotal(outcome: 'ok' | 'error'): void;
  passSeconds(seconds: number): void;
  /** Labels: the event type and driver name, both from small fixed sets. */
  actionsTotal(type: ReconcilerEventType, driver: DriverName): void;
  /** Labels: driver name and DRIVER_* code. */
  driverErrorsTotal(driver: DriverName, code: string): void;
}

export interface ReconcilerModules {
  clock: Clock;
  repository: JobRepository;
  /** The drivers this host runs (probed available). */
  drivers: ReadonlyMap<DriverName, Driver>;
  onEvent: ((ev: ReconcilerEvent) => void) | null;
  importInstance: ImportCallback | null;
  metering: Metering | null;
  metrics: ReconcilerMetrics | null;
  log: HostLogger | null;
}

export interface PassReport {
  readonly jobs: number;
  readonly events: number;
  readonly driverListErrors: number;
  readonly imported: number;
}

/** Per-job memory of this reconciler instance; lost on restart, which is fine: it only shapes timing. */
interface JobMemory {
  /** Restarts since the instance last ran long enough to be called healthy. */
  attempts: number;
  nextRestartAtMs?: Millis;
  lastStartAtMs?: Millis;
  /** Seen by an earlier pass of this reconciler (false on the first pass after an agent start). */
  seen: boolean;
  /** Whether metering last recorded it running; undefined before the first observation. */
  meteredRunning?: boolean;
}

/** Job states in which a desired-running job is left alone until its owner acts. */
const SETTLED: ReadonlySet<JobState> = new Set(['stopped', 'failed', 'lost']);
/** Errors that retrying cannot fix. */
const PERMANENT: ReadonlySet<DriverErrorCode> = new Set(['DRIVER_IMAGE_MISSING', 'DRIVER_INVALID_JOB', 'DRIVER_NOT_FOUND', 'DRIVER_UNAVAILABLE', 'DRIVER_UNSUPPORTED']);

interface Located {
  readonly driver: DriverName;
  readonly instance: Instance;
}

export class Reconciler {
  private readonly opts: ReconcilerOptions;
  private readonly m: ReconcilerModules;
  private readonly memory = new Map<string, JobMemory>();
  /**
   * Unknown instances the last import saw inactive. One is imported only if the next import
   * still sees it so: `virsh define` then `virsh start` are two commands, and an import
   * between them would record a VM its operator is starting as stopped, then stop it.
   */
  private inactiveLastImport = new Set<string>();
  private queue: Promise<unknown> = Promise.resolve();
  private timer: TimerHandle | undefined;
  private running = false;
  private abort = new AbortController();
  private eventsThisPass = 0;

  constructor(opts: ReconcilerOptions, modules: ReconcilerModules) {
    this.opts = opts;
    this.m = modules;
  }

  /** Runs a pass now, then every `intervalMs` (sooner when a restart falls due). */
  start(): void {
    if (this.running) return;
    this.running = true;
    this.abort = new AbortController();
    this.schedule(0);
  }

  /** Cancels the timer and any driver call in flight, and waits for the current pass to end. */
  async stop(): Promise<void> {
    this.running = false;
    this.timer?.cancel();
    this.timer = undefined;
    this.abort.abort(new Error('reconciler stopping'));
    await this.queue.catch(() => undefined);
  }

  /** Asks for a pass as soon as possible (a job was just admitted or changed). */
  kick(): void {
    if (this.running) this.schedule(0);
  }

  /** One pass, after any pass already running. */
  reconcileOnce(): Promise<PassReport> {
    const next = this.queue.then(() => this.pass());
    this.queue = next.catch(() => undefined);
    return next;
  }

  /** Offers every instance no record knows to the import callback, once; returns the records created. */
  async importInstances(): Promise<JobRecord[]> {
    const run = this.queue.then(async () => {
      const records = await this.m.repository.list();
      const seen = await this.listAll();
      // Asked for by the operator: what is inactive now is imported now.
      return this.importUnknown(records, seen.instances, false);
    });
    this.queue = run.catch(() => undefined);
    return run;
  }

  // ---- the pass ----

  private schedule(delayMs: number): void {
    this.timer?.cancel();
    this.timer = this.m.clock.schedule(delayMs, () => {
      this.timer = undefined;
      void this.reconcileOnce()
        .catch((err: unknown) => this.m.log?.warn({ err: errorMessage(err) }, 'reconcile pass failed'))
        .finally(() => {
          if (this.running && !this.timer) this.schedule(this.nextDelayMs());
        });
    });
  }

  private nextDelayMs(): number {
    const now = this.m.clock.now();
    let delay = this.opts.intervalMs;
    for (const mem of this.memory.values()) {
      if (mem.nextRestartAtMs !== undefined) delay = Math.min(delay, Math.max(0, mem.nextRestartAtMs - now));
    }
    return delay;
  }

  private async pass(): Promise<PassReport> {
    const t0 = this.m.clock.now();
    this.eventsThisPass = 0;
    try {
      const records = await this.m.repository.list();
      const seen = await this.listAll();
      const mine = records.filter((r) => this.opts.hostId === null || r.host === this.opts.hostId);
      const jobs = mine.map((r) => () => this.reconcileJob(r, this.locate(r, seen.byJob, seen.byRef), seen.failed.has(r.driver)));
      await runPool(jobs, this.opts.maxConcurrentActions);
      await this.fenceForeign(records, seen.byJob);
      const imported = this.opts.importUnknown ? (await this.importUnknown(records, seen.instances, true)).length : 0;
      const ids = new Set(mine.map((r) => r.id));
      for (const id of this.memory.keys()) if (!ids.has(id)) this.memory.delete(id);
      this.m.metrics?.passesTotal('ok');
      return { jobs: mine.length, events: this.eventsThisPass, driverListErrors: seen.failed.size, imported };
    } catch (err) {
      this.m.metrics?.passesTotal('error');
      throw err;
    } finally {
      this.m.metrics?.passSeconds((this.m.clock.now() - t0) / 1000);
    }
  }

  private async listAll(): Promise<{
    instances: Located[];
    byJob: Map<string, Located>;
    byRef: Map<string, Located>;
    failed: Set<DriverName>;
  }> {
    const instances: Located[] = [];
    const byJob = new Map<string, Located>();
    const byRef = new Map<string, Located>();
    const failed = new Set<DriverName>();
    for (const [name, driver] of this.m.drivers) {
      try {
        for (const instance of await driver.list(this.callOpts())) {
          const loc = { driver: name, instance };
          instances.push(loc);
          byRef.set(refKey(name, instance.ref), loc);
          if (instance.jobId !== undefined && !byJob.has(instance.jobId)) byJob.set(instance.jobId, loc);
        }
      } catch (err) {
        // Without a list we cannot tell "missing" from "unseen": no job of this driver is touched this pass.
        failed.add(name);
        this.driverError(name, err);
        this.m.log?.warn({ driver: name, err: errorMessage(err) }, 'driver list failed; its jobs are left alone this pass');
      }
    }
    return { instances, byJob, byRef, failed };
  }

  private locate(r: JobRecord, byJob: Map<string, Located>, byRef: Map<string, Located>): Instance | undefined {
    const loc = byJob.get(r.id);
    if (loc && loc.driver === r.driver) return loc.instance;
    if (r.driverRef !== undefined) return byRef.get(refKey(r.driver, r.driverRef))?.instance;
    return undefined;
  }

  private async reconcileJob(r: JobRecord, inst: Instance | undefined, listFailed: boolean): Promise<void> {
    if (listFailed) return;
    const mem = this.mem(r.id);
    try {
      const driver = this.m.drivers.get(r.driver);
      if (!driver) {
        await this.noDriver(r);
        return;
      }
      if (inst) await this.meter(r, driver, inst, mem);
      switch (r.desired) {
        case 'deleted':
          await this.ensureDeleted(r, driver, inst);
          return;
        case 'stopped':
          await this.ensureStopped(r, driver, inst, 'stopped on request');
          return;
        case 'running':
          await this.ensureRunning(r, driver, inst, mem);
          return;
      }
    } catch (err) {
      // A failed update or an unexpected driver error: logged and retried next pass.
      this.m.log?.warn({ jobId: r.id, err: errorMessage(err) }, 'reconcile of job failed');
      this.emit({ type: 'action-failed', jobId: r.id, driver: r.driver, reason: errorMessage(err), ...codeOf(err) });
    } finally {
      mem.seen = true;
    }
  }

  private async ensureRunning(r: JobRecord, driver: Driver, inst: Instance | undefined, mem: JobMemory): Promise<void> {
    if (r.state === 'fenced') {
      if (inst && isActive(inst)) await this.stopInstance(r, driver, inst, 'fenced');
      return;
    }
    if (SETTLED.has(r.state)) return;
    if (!inst || inst.state === 'missing') {
      // Gone while it was running (destroyed from outside): recreate, but with back-off.
      if (r.state === 'running' && mem.seen && !(await this.backoffDue(r, mem, 'the instance disappeared'))) return;
      await this.createAndStart(r, driver, mem);
      return;
    }
    if (isActive(inst)) {
      this.adopt(r, inst, mem);
      if (r.state !== 'running' || r.driverRef !== inst.ref || r.reason !== undefined) {
        await this.update(r, { state: 'running', driverRef: inst.ref, reason: null });
      }
      return;
    }
    // The instance exists but is down (stopped or crashed).
    if (mem.nextRestartAtMs === undefined && (r.state === 'placed' || r.state === 'starting') && mem.attempts === 0) {
      await this.startExisting(r, driver, inst.ref, mem, 'started');
      return;
    }
    const exit = driver.lastExit ? await driver.lastExit(inst.ref, this.callOpts()) : undefined;
    if (r.spec.kind === 'process' && exit && !exit.requested && endedOnItsOwn(exit)) {
      const failure = exit.oomKilled || exit.signal !== undefined || exit.exitCode !== 0;
      const policy = r.spec.restart;
      if (!(policy === 'always' || (policy === 'on-failure' && failure))) {
        await this.update(r, { state: failure ? 'failed' : 'stopped', reason: exit.reason });
        this.emit({ type: 'exited', jobId: r.id, driver: r.driver, ref: inst.ref, reason: `${exit.reason} (restart policy: ${policy})` });
        return;
      }
    }
    const why = exit?.reason ?? `the instance is ${inst.state}`;
    if (!mem.seen) {
      // First sight since the agent started, and it is down: the host rebooted or it died while
      // the agent was away. Start it now; back-off is for deaths we watch happen.
      await this.startExisting(r, driver, inst.ref, mem, 'recovered', why);
      return;
    }
    if (!(await this.backoffDue(r, mem, why))) return;
    await this.startExisting(r, driver, inst.ref, mem, 'restarted', why);
  }

  /** True when a restart may happen now; otherwise schedules one (once) and returns false. */
  private async backoffDue(r: JobRecord, mem: JobMemory, why: string): Promise<boolean> {
    const now = this.m.clock.now();
    if (mem.nextRestartAtMs === undefined) {
      const delayMs = Math.min(this.opts.restartBackoffMaxMs, this.opts.restartBackoffInitialMs * 2 ** mem.attempts);
      mem.nextRestartAtMs = now + delayMs;
      this.emit({ type: 'restart-scheduled', jobId: r.id, driver: r.driver, reason: why, attempt: mem.attempts + 1, delayMs });
      await this.update(r, { reason: `restarting in ${delayMs} ms (attempt ${mem.attempts + 1}): ${why}` });
      if (delayMs > 0) return false;
    }
    if (now < mem.nextRestartAtMs) return false;
    mem.nextRestartAtMs = undefined;
    mem.attempts++;
    return true;
  }

  private adopt(r: JobRecord, inst: Instance, mem: JobMemory): void {
    const now = this.m.clock.now();
    if (!mem.seen && mem.lastStartAtMs === undefined) {
      this.emit({ type: 'adopted', jobId: r.id, driver: r.driver, ref: inst.ref });
      mem.lastStartAtMs = inst.startedAtMs ?? now;
    }
    mem.nextRestartAtMs = undefined;
    if (mem.attempts > 0 && mem.lastStartAtMs !== undefined && now - mem.lastStartAtMs >= this.opts.backoffResetAfterMs) mem.attempts = 0;
  }

  private async createAndStart(r: JobRecord, driver: Driver, mem: JobMemory): Promise<void> {
    if (r.state !== 'starting') await this.update(r, { state: 'starting', reason: null });
    let ref: string | undefined;
    try {
      ref = (await driver.create({ jobId: r.id, name: r.spec.name, spec: r.spec, dataDir: this.opts.dataDir }, this.callOpts())).ref;
      await driver.start(ref, this.callOpts());
    } catch (err) {
      if (this.abort.signal.aborted) throw err;
      this.driverError(r.driver, err);
      // Nothing half-created stays: a created-but-unstartable instance is destroyed.
      if (ref !== undefined) {
        await driver.destroy(ref, this.callOpts()).catch((e: unknown) => this.m.log?.warn({ jobId: r.id, ref, err: errorMessage(e) }, 'cleanup after a failed start failed'));
      }
      await this.update(r, { state: 'failed', reason: errorMessage(err), driverRef: null });
      this.emit({ type: 'failed', jobId: r.id, driver: r.driver, reason: errorMessage(err), ...codeOf(err) });
      return;
    }
    mem.lastStartAtMs = this.m.clock.now();
    await this.update(r, { state: 'running', reason: null, driverRef: ref });
    this.emit({ type: mem.attempts > 0 ? 'restarted' : 'started', jobId: r.id, driver: r.driver, ref, ...(mem.attempts > 0 ? { attempt: mem.attempts } : {}) });
  }

  private async startExisting(r: JobRecord, driver: Driver, ref: string, mem: JobMemory, type: 'started' | 'recovered' | 'restarted', why?: string): Promise<void> {
    try {
      await driver.start(ref, this.callOpts());
    } catch (err) {
      if (this.abort.signal.aborted) throw err;
      this.driverError(r.driver, err);
      if (isDriverError(err) && PERMANENT.has(err.code)) {
        await this.update(r, { state: 'failed', reason: errorMessage(err) });
        this.emit({ type: 'failed', jobId: r.id, driver: r.driver, ref, reason: errorMessage(err), ...codeOf(err) });
        return;
      }
      // Transient: try again after the next back-off step.
      this.emit({ type: 'action-failed', jobId: r.id, driver: r.driver, ref, reason: errorMessage(err), ...codeOf(err) });
      await this.backoffDue(r, mem, `start failed: ${errorMessage(err)}`);
      return;
    }
    mem.lastStartAtMs = this.m.clock.now();
    await this.update(r, { state: 'running', reason: null, driverRef: ref });
    this.emit({ type, jobId: r.id, driver: r.driver, ref, ...(why ? { reason: why } : {}), ...(type === 'restarted' ? { attempt: mem.attempts } : {}) });
  }

  private async ensureStopped(r: JobRecord, driver: Driver, inst: Instance | undefined, reason: string): Promise<void> {
    if (inst && isActive(inst)) await this.stopInstance(r, driver, inst, reason);
    if (r.state !== 'stopped') await this.update(r, { state: 'stopped', reason });
  }

  private async ensureDeleted(r: JobRecord, driver: Driver, inst: Instance | undefined): Promise<void> {
    if (inst) {
      if (isActive(inst)) await this.stopInstance(r, driver, inst, 'deleted');
      await driver.destroy(inst.ref, this.callOpts());
      this.emit({ type: 'destroyed', jobId: r.id, driver: r.driver, ref: inst.ref });
    }
    if (r.state !== 'stopped' || r.driverRef !== undefined || r.reason !== 'deleted') {
      await this.update(r, { state: 'stopped', reason: 'deleted', driverRef: null });
    }
  }

  private async stopInstance(r: JobRecord, driver: Driver, inst: Instance, reason: string): Promise<void> {
    if (r.state === 'running') await this.update(r, { state: 'stopping' });
    const graceMs = this.opts.stopGraceMs;
    await driver.stop(inst.ref, { graceMs }, { signal: this.abort.signal, timeoutMs: this.opts.callTimeoutMs + graceMs });
    const now = this.m.clock.now();
    const mem = this.mem(r.id);
    if (this.m.metering && mem.meteredRunning) {
      await this.m.metering.observe({ ...usageOf(r), running: false, nowMs: now, endedAtMs: now });
      mem.meteredRunning = false;
    }
    this.emit({ type: reason === 'fenced' ? 'fenced' : 'stopped', jobId: r.id, driver: r.driver, ref: inst.ref, reason });
  }

  /** Stops instances of jobs that now belong to another host: the job was re-placed, this copy is stale. */
  private async fenceForeign(records: JobRecord[], byJob: Map<string, Located>): Promise<void> {
    if (this.opts.hostId === null) return;
    const byId = new Map(records.map((r) => [r.id, r]));
    for (const [jobId, loc] of byJob) {
      const r = byId.get(jobId);
      if (!r || r.host === this.opts.hostId || !isActive(loc.instance)) continue;
      const driver = this.m.drivers.get(loc.driver);
      if (!driver) continue;
      try {
        await driver.stop(loc.instance.ref, { graceMs: this.opts.stopGraceMs }, { signal: this.abort.signal, timeoutMs: this.opts.callTimeoutMs + this.opts.stopGraceMs });
        this.emit({ type: 'fenced', jobId, driver: loc.driver, ref: loc.instance.ref, reason: `job now runs on ${r.host}` });
      } catch (err) {
        this.driverError(loc.driver, err);
        this.emit({ type: 'action-failed', jobId, driver: loc.driver, ref: loc.instance.ref, reason: errorMessage(err), ...codeOf(err) });
      }
    }
  }

  /** `confirmInactive`: an inactive instance waits for a second sighting (see `inactiveLastImport`). */
  private async importUnknown(records: JobRecord[], instances: Located[], confirmInactive: boolean): Promise<JobRecord[]> {
    const cb = this.m.importInstance;
    if (!cb) return [];
    const ids = new Set(records.map((r) => r.id));
    const refs = new Set(records.filter((r) => r.driverRef !== undefined).map((r) => refKey(r.driver, r.driverRef!)));
    const out: JobRecord[] = [];
    const inactiveNow = new Set<string>();
    for (const loc of instances) {
      const key = refKey(loc.driver, loc.instance.ref);
      if ((loc.instance.jobId !== undefined && ids.has(loc.instance.jobId)) || refs.has(key)) continue;
      if (loc.instance.state === 'missing') continue;
      if (!isActive(loc.instance)) {
        inactiveNow.add(key);
        if (confirmInactive && !this.inactiveLastImport.has(key)) continue;
      }
      try {
        const rec = await cb({ driver: loc.driver, instance: loc.instance, seenAtMs: this.m.clock.now() });
        if (!rec) continue;
        out.push(rec);
        refs.add(refKey(loc.driver, loc.instance.ref));
        this.emit({ type: 'imported', jobId: rec.id, driver: loc.driver, ref: loc.instance.ref, reason: `found ${loc.instance.state} in ${loc.driver}` });
      } catch (err) {
        this.m.log?.warn({ driver: loc.driver, ref: loc.instance.ref, err: errorMessage(err) }, 'import callback failed');
      }
    }
    this.inactiveLastImport = inactiveNow;
    return out;
  }

  private async noDriver(r: JobRecord): Promise<void> {
    const reason = `driver ${r.driver} is not available on this host`;
    if (r.desired === 'running' && !SETTLED.has(r.state) && r.state !== 'fenced') {
      await this.update(r, { state: 'failed', reason });
      this.emit({ type: 'failed', jobId: r.id, driver: r.driver, reason, code: 'DRIVER_UNAVAILABLE' });
    } else if (r.desired !== 'running' && r.state !== 'stopped') {
      await this.update(r, { state: 'stopped', reason: r.desired === 'deleted' ? 'deleted' : reason });
    }
  }

  private async meter(r: JobRecord, driver: Driver, inst: Instance, mem: JobMemory): Promise<void> {
    if (!this.m.metering) return;
    const running = inst.state === 'running';
    // A job known to be down needs no further observations until it runs again.
    if (!running && mem.meteredRunning === false) return;
    const exit = !running && driver.lastExit ? await driver.lastExit(inst.ref, this.callOpts()) : undefined;
    await this.m.metering.observe({
      ...usageOf(r),
      running,
      nowMs: this.m.clock.now(),
      ...(inst.startedAtMs !== undefined && running ? { startedAtMs: inst.startedAtMs } : {}),
      ...(exit?.atMs !== undefined ? { endedAtMs: exit.atMs } : {}),
    });
    mem.meteredRunning = running;
  }

  private async update(r: JobRecord, patch: JobPatch): Promise<void> {
    await this.m.repository.update(r.id, patch);
  }

  private mem(jobId: string): JobMemory {
    let m = this.memory.get(jobId);
    if (!m) {
      m = { attempts: 0, seen: false };
      this.memory.set(jobId, m);
    }
    return m;
  }

  private emit(ev: Omit<ReconcilerEvent, 'atMs'>): void {
    const full: ReconcilerEvent = { ...ev, atMs: this.m.clock.now() };
    this.eventsThisPass++;
    this.m.metrics?.actionsTotal(full.type, full.driver);
    this.m.log?.info({ ...full }, `job ${full.type}`);
    this.m.onEvent?.(full);
  }

  private driverError(driver: DriverName, err: unknown): void {
    this.m.metrics?.driverErrorsTotal(driver, isDriverError(err) ? err.code : 'UNKNOWN');
  }

  private callOpts(): DriverCallOptions {
    return { signal: this.abort.signal, timeoutMs: this.opts.callTimeoutMs };
  }
}

function isActive(i: Instance): boolean {
  return i.state === 'running' || i.state === 'paused';
}

/** The instance ended by itself with a recorded status, rather than vanishing with its supervisor (reboot). */
function endedOnItsOwn(exit: ExitInfo): boolean {
  return exit.exitCode !== undefined || exit.signal !== undefined || exit.oomKilled;
}

function refKey(driver: DriverName, ref: string): string {
  return `${driver}\u0000${ref}`;
}

function codeOf(err: unknown): { code?: string } {
  return isDriverError(err) ? { code: err.code } : {};
}

function usageOf(r: JobRecord): { jobId: string; tenant: string; vcpus: number; memoryMiB: number } {
  return { jobId: r.id, tenant: r.spec.tenant, vcpus: r.spec.resources.vcpus, memoryMiB: r.spec.resources.memoryMiB };
}

/** Runs tasks with at most `limit` in flight. */
async function runPool(tasks: readonly (() => Promise<void>)[], limit: number): Promise<void> {
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < tasks.length) {
      const i = next++;
      await tasks[i]!();
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(limit, tasks.length)) }, worker));
}
