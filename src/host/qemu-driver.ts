import { mkdir, readdir, rm } from 'node:fs/promises';
import { basename, dirname, isAbsolute, join, resolve } from 'node:path';
import type { DriverName } from '../core/job.ts';
import { exists, readJson, writeJsonAtomic } from './atomic-file.ts';
import { CallScope } from './call-scope.ts';
import { createOverlay, inspectImage } from './disk-image.ts';
import { DriverError, isDriverError } from './driver-errors.ts';
import type { Driver, DriverCallOptions, DriverJob, HostLogger, Instance, InstanceStats, InstanceStatus, ProbeResult, StopOptions } from './driver.ts';
import { runCommand } from './exec.ts';
import { probeKvm } from './facts.ts';
import { KeyedLock } from './keyed-lock.ts';
import { listPids, processAlive, readCmdline, readPidFile, readProcStat, readRssBytes, signalProcess } from './proc-fs.ts';
import { QmpClient } from './qmp-client.ts';
import { qemuArgs, vmLayout, type VmLayout, type VmManifest } from './qemu-args.ts';

/**
 * The `qemu` driver: one detached `qemu-system-x86_64` per VM, controlled over QMP. All of a
 * VM's state lives in `<dataDir>/vms/<jobId>/`, so QEMU outlives the agent and a new agent
 * adopts it from the directory alone. The ref is that directory's absolute path. QEMU
 * processes started by something else but exposing a `-qmp unix:` socket are listed too,
 * with the ref `qmp:<socket path>`; they can be watched, stopped and destroyed, not started.
 */

export interface QemuDriverOptions {
  /** The agent's data directory; VMs live in `<dataDir>/vms/`. */
  dataDir: string;
  qemuBinary: string;
  qemuImgBinary: string;
  /** QEMU machine type. */
  machine: string;
  /**
   * `-cpu` model, or null for QEMU's default. `host` is fastest on bare metal but fails under
   * nested KVM that hides MSRs ("failed to set MSR 0x10a"), so it is opt-in.
   */
  cpuModel: string | null;
  /** `auto` uses KVM when /dev/kvm is usable and TCG otherwise. */
  accel: 'auto' | 'kvm' | 'tcg';
  kvmDevice: string;
  /** Default bound for calls that do not pass `timeoutMs`. */
  callTimeoutMs: number;
  /** After `quit`, how long QEMU gets to exit before SIGKILL. */
  quitTimeoutMs: number;
}

export const defaultQemuDriverOptions: Omit<QemuDriverOptions, 'dataDir'> = {
  qemuBinary: 'qemu-system-x86_64', // found on PATH, as Debian installs it
  qemuImgBinary: 'qemu-img',
  machine: 'q35', // PCIe machine, the modern default for KVM guests
  cpuModel: null, // QEMU's default model runs under KVM, TCG and nested KVM alike
  accel: 'auto',
  kvmDevice: '/dev/kvm',
  callTimeoutMs: 60_000, // 60 s: covers a graceful stop with the default 30 s grace plus the forced path
  quitTimeoutMs: 5_000, // 5 s: QEMU exits within milliseconds of `quit` unless it is wedged in I/O
};

export interface QemuDriverModules {
  log: HostLogger | null;
}

/** QMP run states (qapi RunState) mapped to the driver's statuses. */
const RUN_STATE: Record<string, InstanceStatus> = {
  running: 'running',
  paused: 'paused',
  suspended: 'paused',
  prelaunch: 'paused',
  inmigrate: 'paused',
  postmigrate: 'paused',
  'finish-migrate': 'paused',
  'restore-vm': 'paused',
  'save-vm': 'paused',
  debug: 'paused',
  watchdog: 'paused',
  colo: 'running',
  shutdown: 'stopped',
  'internal-error': 'crashed',
  'io-error': 'crashed',
  'guest-panicked': 'crashed',
};

const FOREIGN_PREFIX = 'qmp:';
/** Linux sun_path is 108 bytes including the terminating NUL. */
const MAX_SOCKET_PATH_BYTES = 107;

export class QemuDriver implements Driver {
  readonly name: DriverName = 'qemu';
  private readonly opts: QemuDriverOptions;
  private readonly log: HostLogger | null;
  private readonly lock = new KeyedLock();

  constructor(opts: QemuDriverOptions, modules: QemuDriverModules = { log: null }) {
    this.opts = opts;
    this.log = modules.log;
  }

  get vmsDir(): string {
    return join(this.opts.dataDir, 'vms');
  }

  async probe(opts?: DriverCallOptions): Promise<ProbeResult> {
    const scope = CallScope.begin('qemu probe', opts, this.opts.callTimeoutMs);
    const kvm = await probeKvm(this.opts.kvmDevice);
    const details: Record<string, unknown> = { kvm, accel: await this.accel() };
    try {
      details.qemuVersion = firstLine((await runCommand(this.opts.qemuBinary, ['--version'], scope)).stdout);
      details.qemuImgVersion = firstLine((await runCommand(this.opts.qemuImgBinary, ['--version'], scope)).stdout);
    } catch (err) {
      return { available: false, reason: (err as Error).message, details };
    }
    if (this.opts.accel === 'kvm' && !kvm.usable) {
      return { available: false, reason: `accel=kvm is configured but ${kvm.reason}`, details };
    }
    return { available: true, details };
  }

  async create(job: DriverJob, opts?: DriverCallOptions): Promise<{ ref: string }> {
    const scope = CallScope.begin(`qemu create ${job.jobId}`, opts, this.opts.callTimeoutMs);
    if (job.spec.kind !== 'vm') throw new DriverError('DRIVER_INVALID_JOB', `the qemu driver runs vm jobs, not ${job.spec.kind} jobs`, { jobId: job.jobId });
    if (!/^[A-Za-z0-9_-]{1,64}$/.test(job.jobId)) throw new DriverError('DRIVER_INVALID_JOB', `job id ${JSON.stringify(job.jobId)} cannot name a directory`, { jobId: job.jobId });
    const dir = resolve(job.dataDir, 'vms', job.jobId);
    const layout = vmLayout(dir);
    if (Buffer.byteLength(layout.qmpSocket) > MAX_SOCKET_PATH_BYTES) {
      throw new DriverError('DRIVER_INVALID_JOB', `QMP socket path ${layout.qmpSocket} is longer than ${MAX_SOCKET_PATH_BYTES} bytes; use a shorter data directory`, { path: layout.qmpSocket });
    }
    return this.lock.run(dir, async () => {
      if (await exists(layout.manifest)) throw new DriverError('DRIVER_ALREADY_EXISTS', `a VM for job ${job.jobId} already exists in ${dir}`, { ref: dir });
      // Check the image before touching the disk, so a bad spec leaves nothing behind.
      const image = job.spec.image ? await inspectImage(this.opts.qemuImgBinary, job.spec.image, scope) : undefined;
      // A directory without a manifest is a leftover of a create that died half-way.
      await rm(dir, { recursive: true, force: true });
      try {
        await mkdir(dir, { recursive: true, mode: 0o750 });
        if (image) await createOverlay(this.opts.qemuImgBinary, image, layout.disk, job.spec.resources.diskGiB, scope);
        const manifest: VmManifest = {
          version: 1,
          jobId: job.jobId,
          name: job.name,
          tenant: job.spec.tenant,
          vcpus: job.spec.resources.vcpus,
          memoryMiB: job.spec.resources.memoryMiB,
          ...(image ? { image: image.path, imageFormat: image.format } : {}),
          createdAtMs: Date.now(),
        };
        await writeJsonAtomic(layout.manifest, manifest);
        return { ref: dir };
      } catch (err) {
        await rm(dir, { recursive: true, force: true });
        throw scope.translate(err);
      }
    });
  }

  async start(ref: string, opts?: DriverCallOptions): Promise<void> {
    const layout = this.ownLayout(ref, 'start');
    const scope = CallScope.begin(`qemu start ${basename(ref)}`, opts, this.opts.callTimeoutMs);
    await this.lock.run(ref, async () => {
      const manifest = await this.readManifest(layout);
      if (!manifest) throw new DriverError('DRIVER_NOT_FOUND', `no VM at ${ref}`, { ref });
      // Idempotent: a VM that is already up (adopted after an agent restart) is never started twice.
      if (await this.livePid(layout)) return;
      await rm(layout.pidFile, { force: true });
      await rm(layout.qmpSocket, { force: true });
      if (manifest.image && !(await exists(manifest.image))) {
        throw new DriverError('DRIVER_IMAGE_MISSING', `image ${manifest.image} no longer exists`, { image: manifest.image, ref });
      }
      const accel = await this.accel();
      const args = qemuArgs(manifest, layout, { machine: this.opts.machine, accel, cpuModel: this.opts.cpuModel });
      try {
        // With -daemonize the parent exits once the VM is initialised, so errors arrive here.
        await runCommand(this.opts.qemuBinary, args, scope);
      } catch (err) {
        await this.cleanupAfterFailedStart(layout);
        if (isDriverError(err, 'DRIVER_COMMAND_FAILED')) {
          throw new DriverError('DRIVER_START_FAILED', `QEMU failed to start VM ${manifest.name}: ${String(err.details.stderr || err.message)}`, { ...err.details, ref, accel });
        }
        throw err;
      }
      const status = await this.queryStatus(layout, scope).catch((err: unknown) => err);
      if (status !== 'running') {
        await this.cleanupAfterFailedStart(layout);
        const why = status instanceof Error ? status.message : `QMP reports ${String(status)}`;
        throw new DriverError('DRIVER_START_FAILED', `VM ${manifest.name} did not come up: ${why}`, { ref, accel });
      }
      this.log?.info({ ref, accel, jobId: manifest.jobId }, 'qemu VM started');
    });
  }

  async stop(ref: string, stopOpts: StopOptions, opts?: DriverCallOptions): Promise<void> {
    const scope = CallScope.begin(`qemu stop ${basename(ref)}`, opts, Math.max(this.opts.callTimeoutMs, stopOpts.graceMs + this.opts.quitTimeoutMs * 3));
    await this.lock.run(ref, () => this.stopUnlocked(ref, stopOpts.graceMs, scope));
  }

  async destroy(ref: string, opts?: DriverCallOptions): Promise<void> {
    const scope = CallScope.begin(`qemu destroy ${basename(ref)}`, opts, this.opts.callTimeoutMs);
    await this.lock.run(ref, async () => {
      await this.stopUnlocked(ref, 0, scope);
      if (!ref.startsWith(FOREIGN_PREFIX)) {
        this.ownLayout(ref, 'destroy');
        await rm(ref, { recursive: true, force: true });
      }
    });
  }

  async list(opts?: DriverCallOptions): Promise<Instance[]> {
    const scope = CallScope.begin('qemu list', opts, this.opts.callTimeoutMs);
    const out: Instance[] = [];
    const ownSockets = new Set<string>();
    let entries: string[] = [];
    try {
      entries = await readdir(this.vmsDir);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw io(`cannot read ${this.vmsDir}`, err);
    }
    for (const entry of entries.sort()) {
      scope.check();
      const layout = vmLayout(join(this.vmsDir, entry));
      const m = await this.readManifest(layout);
      if (!m) continue;
      ownSockets.add(layout.qmpSocket);
      const state = await this.lock.run(layout.dir, () => this.statusUnlocked(layout.dir, scope));
      const pid = state === 'running' || state === 'paused' ? await this.livePid(layout) : undefined;
      const st = pid ? await readProcStat(pid) : undefined;
      out.push({
        ref: layout.dir,
        name: m.name,
        state,
        jobId: m.jobId,
        vcpus: m.vcpus,
        memoryMiB: m.memoryMiB,
        ...(st ? { startedAtMs: st.startedAtMs } : {}),
      });
    }
    for (const f of await findQmpProcesses()) {
      if (ownSockets.has(f.socket)) continue;
      const ref = FOREIGN_PREFIX + f.socket;
      const state = await this.lock.run(ref, () => this.statusUnlocked(ref, scope));
      const st = await readProcStat(f.pid);
      out.push({ ref, name: f.name ?? basename(f.socket), state, ...(st ? { startedAtMs: st.startedAtMs } : {}), ...f.size });
    }
    return out;
  }

  async status(ref: string, opts?: DriverCallOptions): Promise<InstanceStatus> {
    const scope = CallScope.begin(`qemu status ${basename(ref)}`, opts, this.opts.callTimeoutMs);
    return this.lock.run(ref, () => this.statusUnlocked(ref, scope));
  }

  async stats(ref: string, opts?: DriverCallOptions): Promise<InstanceStats> {
    CallScope.begin(`qemu stats ${basename(ref)}`, opts, this.opts.callTimeoutMs);
    const pid = await this.pidOf(ref);
    if (!pid) return {};
    const [st, rss] = await Promise.all([readProcStat(pid), readRssBytes(pid)]);
    if (!st) return {};
    return { pid, cpuSeconds: st.cpuSeconds, startedAtMs: st.startedAtMs, ...(rss === undefined ? {} : { memoryBytes: rss }) };
  }

  // ---- internals ----

  private async statusUnlocked(ref: string, scope: CallScope): Promise<InstanceStatus> {
    if (ref.startsWith(FOREIGN_PREFIX)) {
      const pid = await foreignPid(ref.slice(FOREIGN_PREFIX.length));
      if (!pid) return 'missing';
      return this.queryStatusAt(ref.slice(FOREIGN_PREFIX.length), scope).catch(() => 'running' as const);
    }
    const layout = this.ownLayout(ref, 'status');
    if (!(await this.readManifest(layout))) return 'missing';
    if (await this.livePid(layout)) {
      // Alive but QMP not answering (still initialising, or wedged): the process is what we can vouch for.
      // (QMP serves one client at a time: another agent process may be holding it.)
      return this.queryStatus(layout, scope).catch((err: unknown) => {
        if (scope.signal.aborted) throw scope.translate(err);
        return 'running' as const;
      });
    }
    // QEMU deletes its pid file on a clean exit; one left behind with no process means it was killed.
    return (await exists(layout.pidFile)) ? 'crashed' : 'stopped';
  }

  private async stopUnlocked(ref: string, graceMs: number, scope: CallScope): Promise<void> {
    const foreign = ref.startsWith(FOREIGN_PREFIX);
    const socket = foreign ? ref.slice(FOREIGN_PREFIX.length) : this.ownLayout(ref, 'stop').qmpSocket;
    const pid = foreign ? await foreignPid(socket) : await this.livePid(this.ownLayout(ref, 'stop'));
    if (!pid) {
      if (!foreign) await rm(this.ownLayout(ref, 'stop').pidFile, { force: true });
      return;
    }
    let qmp: QmpClient | undefined;
    try {
      qmp = await QmpClient.connect(socket, { signal: scope.signal, timeoutMs: Math.min(5_000, scope.remainingMs()) });
    } catch (err) {
      if (scope.signal.aborted) throw scope.translate(err);
      this.log?.warn({ ref, err: (err as Error).message }, 'QMP unreachable; stopping QEMU by signal');
    }
    try {
      if (qmp && graceMs > 0) {
        const asked = await qmp.execute('system_powerdown', undefined, { signal: scope.signal, timeoutMs: scope.remainingMs() }).then(
          () => true,
          (err: unknown) => {
            if (scope.signal.aborted) throw scope.translate(err);
            this.log?.warn({ ref, err: (err as Error).message }, 'system_powerdown refused; forcing');
            return false;
          },
        );
        // QEMU exits when the guest powers off, which closes the socket.
        if (asked && (await raceClosed(qmp, graceMs, scope))) {
          await this.waitDead(pid, this.opts.quitTimeoutMs, scope);
        }
      }
      if (await processAlive(pid)) {
        if (qmp?.connected) {
          await qmp.execute('quit', undefined, { signal: scope.signal, timeoutMs: Math.min(this.opts.quitTimeoutMs, scope.remainingMs()) }).catch((err: unknown) => {
            // quit may close the socket before its reply arrives.
            if (!isDriverError(err, 'DRIVER_QMP_UNREACHABLE')) throw err;
          });
        } else {
          signalProcess(pid, 'SIGTERM'); // QEMU treats SIGTERM as quit
        }
        if (!(await this.waitDead(pid, this.opts.quitTimeoutMs, scope))) {
          this.log?.warn({ ref, pid }, 'QEMU ignored quit; killing it');
          signalProcess(pid, 'SIGKILL');
          if (!(await this.waitDead(pid, this.opts.quitTimeoutMs, scope))) {
            throw new DriverError('DRIVER_STOP_FAILED', `QEMU pid ${pid} survived SIGKILL for ${this.opts.quitTimeoutMs} ms`, { ref, pid });
          }
        }
      }
    } finally {
      qmp?.close();
    }
    if (!foreign) {
      // After a forced kill QEMU cannot remove these itself; a stale pid file would read as "crashed".
      const layout = this.ownLayout(ref, 'stop');
      await rm(layout.pidFile, { force: true });
      await rm(layout.qmpSocket, { force: true });
    }
  }

  private async waitDead(pid: number, withinMs: number, scope: CallScope): Promise<boolean> {
    return scope.waitFor(async () => !(await processAlive(pid)), Math.min(withinMs, scope.remainingMs()), 20);
  }

  private async queryStatus(layout: VmLayout, scope: CallScope): Promise<InstanceStatus> {
    return this.queryStatusAt(layout.qmpSocket, scope);
  }

  private async queryStatusAt(socket: string, scope: CallScope): Promise<InstanceStatus> {
    const qmp = await QmpClient.connect(socket, { signal: scope.signal, timeoutMs: Math.min(5_000, scope.remainingMs()) });
    try {
      const r = await qmp.execute<{ status: string }>('query-status', undefined, { signal: scope.signal, timeoutMs: scope.remainingMs() });
      return RUN_STATE[r.status] ?? 'running';
    } finally {
      qmp.close();
    }
  }

  /** The QEMU pid of an own VM, if that process is alive and really is this VM's QEMU (pids are reused). */
  private async livePid(layout: VmLayout): Promise<number | undefined> {
    const pid = await readPidFile(layout.pidFile);
    if (!pid || !(await processAlive(pid))) return undefined;
    const argv = await readCmdline(pid);
    return argv.some((a) => a.includes(layout.qmpSocket)) ? pid : undefined;
  }

  private async pidOf(ref: string): Promise<number | undefined> {
    if (ref.startsWith(FOREIGN_PREFIX)) return foreignPid(ref.slice(FOREIGN_PREFIX.length));
    return this.livePid(this.ownLayout(ref, 'stats'));
  }

  private ownLayout(ref: string, op: string): VmLayout {
    if (!isAbsolute(ref) || basename(dirname(ref)) !== 'vms') {
      throw new DriverError('DRIVER_NOT_FOUND', `qemu ${op}: ${JSON.stringify(ref)} is not a qemu driver ref (a <dataDir>/vms/<jobId> directory)`, { ref });
    }
    return vmLayout(ref);
  }

  private async readManifest(layout: VmLayout): Promise<VmManifest | undefined> {
    const m = await readJson<VmManifest>(layout.manifest);
    return m?.version === 1 && typeof m.jobId === 'string' ? m : undefined;
  }

  private async accel(): Promise<'kvm' | 'tcg'> {
    if (this.opts.accel !== 'auto') return this.opts.accel;
    return (await probeKvm(this.opts.kvmDevice)).usable ? 'kvm' : 'tcg';
  }

  private async cleanupAfterFailedStart(layout: VmLayout): Promise<void> {
    const pid = await this.livePid(layout);
    if (pid) signalProcess(pid, 'SIGKILL');
    await rm(layout.pidFile, { force: true });
    await rm(layout.qmpSocket, { force: true });
  }
}

interface QmpProcess {
  readonly pid: number;
  readonly socket: string;
  readonly name?: string;
  readonly size: { vcpus?: number; memoryMiB?: number };
}

/** QEMU processes on this host that expose a QMP unix socket through `-qmp unix:<path>`. */
async function findQmpProcesses(): Promise<QmpProcess[]> {
  const out: QmpProcess[] = [];
  for (const pid of await listPids()) {
    const argv = await readCmdline(pid);
    if (argv.length === 0 || !basename(argv[0]!).startsWith('qemu-system-')) continue;
    const socket = qmpSocketFromArgv(argv);
    if (!socket || !(await processAlive(pid))) continue;
    out.push({ pid, socket, ...parseNameAndSize(argv) });
  }
  return out;
}

async function foreignPid(socket: string): Promise<number | undefined> {
  for (const p of await findQmpProcesses()) if (p.socket === socket) return p.pid;
  return undefined;
}

/** The socket path of `-qmp unix:<path>[,opts]`, undoing QEMU's ",," escaping. */
export function qmpSocketFromArgv(argv: readonly string[]): string | undefined {
  for (let i = 0; i < argv.length - 1; i++) {
    if (argv[i] !== '-qmp' && argv[i] !== '--qmp') continue;
    const v = argv[i + 1]!;
    if (!v.startsWith('unix:')) continue;
    return splitOptions(v.slice(5))[0];
  }
  return undefined;
}

function parseNameAndSize(argv: readonly string[]): { name?: string; size: { vcpus?: number; memoryMiB?: number } } {
  let name: string | undefined;
  const size: { vcpus?: number; memoryMiB?: number } = {};
  for (let i = 0; i < argv.length - 1; i++) {
    const v = argv[i + 1]!;
    if (argv[i] === '-name') {
      const first = splitOptions(v)[0] ?? '';
      name = first.startsWith('guest=') ? first.slice(6) : first;
    } else if (argv[i] === '-smp') {
      const n = Number.parseInt(splitOptions(v)[0]!.replace(/^cpus=/, ''), 10);
      if (Number.isFinite(n)) size.vcpus = n;
    } else if (argv[i] === '-m') {
      const m = /^(?:size=)?(\d+)([MG]?)/i.exec(splitOptions(v)[0] ?? '');
      if (m) size.memoryMiB = Number(m[1]) * (m[2]?.toUpperCase() === 'G' ? 1024 : 1);
    }
  }
  return { ...(name ? { name } : {}), size };
}

/** Splits a QEMU option string on single commas (",," is a literal comma). */
function splitOptions(v: string): string[] {
  const out: string[] = [];
  let cur = '';
  for (let i = 0; i < v.length; i++) {
    if (v[i] === ',') {
      if (v[i + 1] === ',') {
        cur += ',';
        i++;
        continue;
      }
      out.push(cur);
      cur = '';
      continue;
    }
    cur += v[i];
  }
  out.push(cur);
  return out;
}

/** Resolves true when the QMP connection closes within `ms`, false otherwise. */
async function raceClosed(qmp: QmpClient, ms: number, scope: CallScope): Promise<boolean> {
  let closed = false;
  void qmp.closed.then(() => (closed = true));
  return scope.waitFor(() => closed, Math.min(ms, scope.remainingMs()), 20);
}

function firstLine(s: string): string {
  return s.split('\n')[0]!.trim();
}

function io(message: string, err: unknown): DriverError {
  return new DriverError('DRIVER_IO_FAILED', `${message}: ${(err as Error).message}`, { errno: (err as NodeJS.ErrnoException).code }, err);
}

