import type { Millis } from '../core/clock.ts';
import type { DriverName, JobSpec } from '../core/job.ts';

/**
 * The hypervisor driver contract. One implementation per backend (`qemu`, `libvirt`,
 * `process`, and `fake` for tests and the simulator). Drivers hold no state that matters
 * across restarts: everything they need to find an instance again is on disk or in the
 * hypervisor, so a fresh driver instance adopts what an earlier one started.
 */

/** Every call honours both: the signal cancels, the timeout bounds (each driver has a default). */
export interface DriverCallOptions {
  readonly signal?: AbortSignal;
  readonly timeoutMs?: number;
}

/** What a driver needs to create an instance for a job. */
export interface DriverJob {
  readonly jobId: string;
  readonly name: string;
  readonly spec: JobSpec;
  /** The agent's data directory; drivers keep per-instance files under `<dataDir>/vms/<jobId>/` (or `procs/`). */
  readonly dataDir: string;
}

/** `crashed`: died without being asked to (killed from outside, OOM, hypervisor error). */
export type InstanceStatus = 'running' | 'paused' | 'stopped' | 'missing' | 'crashed';

export interface Instance {
  /** Driver-specific handle, stable across agent restarts (a VM directory, a domain name). */
  readonly ref: string;
  readonly name: string;
  readonly state: InstanceStatus;
  /** Set when Shoal created it; absent for instances found in the hypervisor (import candidates). */
  readonly jobId?: string;
  /** Wall-clock start of the current run, when the driver can tell (metering uses it to bridge agent restarts). */
  readonly startedAtMs?: Millis;
  /** Size, when the driver can read it (import turns it into a spec). */
  readonly vcpus?: number;
  readonly memoryMiB?: number;
}

export interface ProbeResult {
  readonly available: boolean;
  /** Why not, when unavailable. */
  readonly reason?: string;
  /** Versions, accel mode, limit mode…: shown in host facts. */
  readonly details: Record<string, unknown>;
}

export interface InstanceStats {
  /** CPU time used by the instance since its current run began. */
  readonly cpuSeconds?: number;
  /** Resident memory of the instance right now. */
  readonly memoryBytes?: number;
  readonly startedAtMs?: Millis;
  readonly pid?: number;
  readonly [extra: string]: unknown;
}

/** How the last run ended, for drivers that can tell (process driver). */
export interface ExitInfo {
  readonly exitCode?: number;
  readonly signal?: string;
  /** Killed by the memory limit. */
  readonly oomKilled: boolean;
  /** Stopped through `stop()` rather than on its own. */
  readonly requested: boolean;
  /** A sentence for the job record: "OOM-killed: exceeded its memory limit of 64 MiB". */
  readonly reason: string;
  readonly atMs?: Millis;
}

export interface StopOptions {
  /** Time the guest/process gets to stop gracefully before it is forced. */
  readonly graceMs: number;
}

export interface Driver {
  readonly name: DriverName;
  probe(opts?: DriverCallOptions): Promise<ProbeResult>;
  /** Prepares an instance (disk overlay, domain definition) without starting it. On failure nothing is left behind. */
  create(job: DriverJob, opts?: DriverCallOptions): Promise<{ ref: string }>;
  start(ref: string, opts?: DriverCallOptions): Promise<void>;
  /** Graceful first, forced after `graceMs`. Stopping a stopped instance is a no-op. */
  stop(ref: string, stop: StopOptions, opts?: DriverCallOptions): Promise<void>;
  /** Forces a stop if needed and removes everything `create` made. Destroying a missing instance is a no-op. */
  destroy(ref: string, opts?: DriverCallOptions): Promise<void>;
  /** Every instance the driver can see, including ones Shoal did not create. */
  list(opts?: DriverCallOptions): Promise<Instance[]>;
  status(ref: string, opts?: DriverCallOptions): Promise<InstanceStatus>;
  stats(ref: string, opts?: DriverCallOptions): Promise<InstanceStats>;
  /** How the last run ended; drivers that cannot tell leave this out. */
  lastExit?(ref: string, opts?: DriverCallOptions): Promise<ExitInfo | undefined>;
}

/** The slice of a pino logger drivers use: `(fields, message)`, as pino takes them. */
export interface HostLogger {
  info(fields: Record<string, unknown>, msg: string): void;
  warn(fields: Record<string, unknown>, msg: string): void;
}
