import type { Millis } from '../core/clock.ts';
import type { DriverName } from '../core/job.ts';
import { DriverError, type DriverErrorCode } from './driver-errors.ts';
import type { Driver, DriverCallOptions, DriverJob, ExitInfo, Instance, InstanceStats, InstanceStatus, ProbeResult, StopOptions } from './driver.ts';

/**
 * FAKE driver, in memory: for unit tests and the simulator only, never for real jobs. It
 * keeps instances in a Map, reads time from an injected `now`, and lets a test script faults
 * (a failing call, a crash from outside, an exit with a code, a foreign instance).
 */

type Op = 'probe' | 'create' | 'start' | 'stop' | 'destroy' | 'list' | 'status' | 'stats';

interface FakeInstance {
  ref: string;
  name: string;
  jobId?: string;
  state: InstanceStatus;
  vcpus: number;
  memoryMiB: number;
  startedAtMs?: Millis;
  exit?: ExitInfo;
  starts: number;
}

export interface FakeDriverOptions {
  /** The driver name the fake reports (so one fake can stand in for `qemu` or `process`). */
  name: DriverName;
  available: boolean;
}

export const defaultFakeDriverOptions: FakeDriverOptions = {
  name: 'fake', // honest by default: it is never mistaken for a real hypervisor
  available: true, // probe succeeds; set false to test "driver unavailable" paths
};

export interface FakeDriverModules {
  now: () => Millis;
}

export class FakeDriver implements Driver {
  readonly name: DriverName;
  private readonly opts: FakeDriverOptions;
  private readonly now: () => Millis;
  private readonly instances = new Map<string, FakeInstance>();
  private readonly failures = new Map<Op, DriverError[]>();
  /** Calls per operation, for assertions ("start was called once"). */
  readonly calls: Record<Op, number> = { probe: 0, create: 0, start: 0, stop: 0, destroy: 0, list: 0, status: 0, stats: 0 };

  constructor(opts: FakeDriverOptions = defaultFakeDriverOptions, modules: FakeDriverModules) {
    this.opts = opts;
    this.name = opts.name;
    this.now = modules.now;
  }

  // ---- test controls ----

  /** The next call of `op` fails with this code and message. */
  failNext(op: Op, code: DriverErrorCode, message: string): void {
    const q = this.failures.get(op) ?? [];
    q.push(new DriverError(code, message, { fake: true }));
    this.failures.set(op, q);
  }

  /** Simulates a kill from outside (or an OOM kill). */
  crash(ref: string, exit: Partial<ExitInfo> = {}): void {
    const i = this.must(ref);
    i.state = 'crashed';
    i.exit = { oomKilled: false, requested: false, reason: 'killed by SIGKILL', signal: 'SIGKILL', atMs: this.now(), ...exit };
  }

  /** Simulates the instance ending on its own with an exit code. */
  exit(ref: string, exitCode: number): void {
    const i = this.must(ref);
    i.state = exitCode === 0 ? 'stopped' : 'crashed';
    i.exit = { oomKilled: false, requested: false, exitCode, reason: `exited with code ${exitCode}`, atMs: this.now() };
  }

  /** Simulates a host reboot: every instance stops, nothing records why. */
  reboot(): void {
    for (const i of this.instances.values()) {
      if (i.state === 'running' || i.state === 'paused') {
        i.state = 'crashed';
        i.exit = { oomKilled: false, requested: false, reason: 'the host restarted' };
      }
    }
  }

  /** Adds an instance Shoal did not create (an import candidate). */
  addForeign(ref: string, name: string, state: InstanceStatus = 'running', size = { vcpus: 1, memoryMiB: 512 }): void {
    this.instances.set(ref, { ref, name, state, ...size, starts: state === 'running' ? 1 : 0, ...(state === 'running' ? { startedAtMs: this.now() } : {}) });
  }

  /** How many times an instance has been started (adoption must not raise it). */
  startsOf(ref: string): number {
    return this.instances.get(ref)?.starts ?? 0;
  }

  get size(): number {
    return this.instances.size;
  }

  // ---- Driver ----

  async probe(opts?: DriverCallOptions): Promise<ProbeResult> {
    this.enter('probe', opts);
    return this.opts.available ? { available: true, details: { fake: true } } : { available: false, reason: 'fake driver configured unavailable', details: { fake: true } };
  }

  async create(job: DriverJob, opts?: DriverCallOptions): Promise<{ ref: string }> {
    this.enter('create', opts);
    const ref = `fake:${job.jobId}`;
    if (this.instances.has(ref)) throw new DriverError('DRIVER_ALREADY_EXISTS', `fake instance ${ref} exists`, { ref });
    this.instances.set(ref, { ref, name: job.name, jobId: job.jobId, state: 'stopped', vcpus: job.spec.resources.vcpus, memoryMiB: job.spec.resources.memoryMiB, starts: 0 });
    return { ref };
  }

  async start(ref: string, opts?: DriverCallOptions): Promise<void> {
    this.enter('start', opts);
    const i = this.must(ref);
    if (i.state === 'running' || i.state === 'paused') return;
    i.state = 'running';
    i.startedAtMs = this.now();
    delete i.exit;
    i.starts++;
  }

  async stop(ref: string, _stop: StopOptions, opts?: DriverCallOptions): Promise<void> {
    this.enter('stop', opts);
    const i = this.instances.get(ref);
    if (!i || (i.state !== 'running' && i.state !== 'paused')) return;
    i.state = 'stopped';
    i.exit = { oomKilled: false, requested: true, reason: 'stopped on request', atMs: this.now() };
  }

  async destroy(ref: string, opts?: DriverCallOptions): Promise<void> {
    this.enter('destroy', opts);
    this.instances.delete(ref);
  }

  async list(opts?: DriverCallOptions): Promise<Instance[]> {
    this.enter('list', opts);
    return [...this.instances.values()].map((i) => ({
      ref: i.ref,
      name: i.name,
      state: i.state,
      vcpus: i.vcpus,
      memoryMiB: i.memoryMiB,
      ...(i.jobId ? { jobId: i.jobId } : {}),
      ...(i.startedAtMs !== undefined && i.state === 'running' ? { startedAtMs: i.startedAtMs } : {}),
    }));
  }

  async status(ref: string, opts?: DriverCallOptions): Promise<InstanceStatus> {
    this.enter('status', opts);
    return this.instances.get(ref)?.state ?? 'missing';
  }

  async stats(ref: string, opts?: DriverCallOptions): Promise<InstanceStats> {
    this.enter('stats', opts);
    const i = this.instances.get(ref);
    if (!i || i.state !== 'running' || i.startedAtMs === undefined) return {};
    return { startedAtMs: i.startedAtMs, cpuSeconds: (this.now() - i.startedAtMs) / 1000, memoryBytes: i.memoryMiB * 1024 * 1024 };
  }

  async lastExit(ref: string): Promise<ExitInfo | undefined> {
    const i = this.instances.get(ref);
    return i && i.state !== 'running' ? i.exit : undefined;
  }

  private enter(op: Op, opts?: DriverCallOptions): void {
    this.calls[op]++;
    if (opts?.signal?.aborted) throw new DriverError('DRIVER_ABORTED', `fake ${op}: cancelled`);
    const q = this.failures.get(op);
    const err = q?.shift();
    if (err) throw err;
  }

  private must(ref: string): FakeInstance {
    const i = this.instances.get(ref);
    if (!i) throw new DriverError('DRIVER_NOT_FOUND', `no fake instance ${ref}`, { ref });
    return i;
  }
}
