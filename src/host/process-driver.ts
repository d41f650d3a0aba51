import { spawn } from 'node:child_process';
import { constants as fsConstants, openSync, closeSync } from 'node:fs';
import { access, mkdir, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { constants as osConstants } from 'node:os';
import { basename, delimiter, dirname, isAbsolute, join, resolve } from 'node:path';
import type { DriverName } from '../core/job.ts';
import { exists, readJson, writeJsonAtomic } from './atomic-file.ts';
import { CallScope } from './call-scope.ts';
import { DriverError } from './driver-errors.ts';
import type { Driver, DriverCallOptions, DriverJob, ExitInfo, HostLogger, Instance, InstanceStats, InstanceStatus, ProbeResult, StopOptions } from './driver.ts';
import { detectLimitBackend, defaultLimitDetectOptions, type LimitBackend, type LimitDetectOptions, type LimitMode } from './process-limits.ts';
import { processAlive, readCmdline, readPidFile, readProcStat, readRssBytes, signalProcess } from './proc-fs.ts';

/**
 * The `process` driver: "open heaps", renting process space rather than whole machines. A
 * job's command runs under a tiny `sh` supervisor (the shim), detached from the agent, so it
 * outlives agent restarts. The shim records the pids and, when the command ends, its exit
 * status, in `<dataDir>/procs/<jobId>/`; a fresh agent adopts the job from those files. Limits
 * come from systemd, cgroup v2, cgroup v1 or rlimits (see process-limits.ts). Restarts
 * (spec.restart, with back-off) are decided by the reconciler from `lastExit()`.
 */

export interface ProcessDriverOptions {
  dataDir: string;
  /** `auto` picks systemd → cgroup2 → cgroup1 → rlimit, the first that works here. */
  limitMode: 'auto' | LimitMode;
  limitDetect: LimitDetectOptions;
  /** Default bound for calls that do not pass `timeoutMs`. */
  callTimeoutMs: number;
  /** How long a start may take until the shim reports the job's pid. */
  startTimeoutMs: number;
  /** After SIGKILL, how long the job's processes get to disappear. */
  killTimeoutMs: number;
}

export const defaultProcessDriverOptions: Omit<ProcessDriverOptions, 'dataDir'> = {
  limitMode: 'auto',
  limitDetect: defaultLimitDetectOptions,
  callTimeoutMs: 60_000, // 60 s: covers a graceful stop with the default 30 s grace plus the forced path
  startTimeoutMs: 10_000, // 10 s: sh starts in milliseconds; a loaded host may be slow to fork
  killTimeoutMs: 5_000, // 5 s: a SIGKILLed process is gone once the kernel frees its memory
};

export interface ProcessDriverModules {
  log: HostLogger | null;
}

interface ProcManifest {
  readonly version: 1;
  readonly jobId: string;
  readonly name: string;
  readonly tenant: string;
  readonly command: readonly string[];
  readonly vcpus: number;
  readonly memoryMiB: number;
  readonly createdAtMs: number;
}

interface ProcLayout {
  readonly dir: string;
  readonly manifest: string;
  readonly shimPid: string;
  readonly childPid: string;
  readonly exit: string;
  readonly stopRequested: string;
  readonly stdout: string;
  readonly stderr: string;
}

function procLayout(dir: string): ProcLayout {
  return {
    dir,
    manifest: join(dir, 'proc.json'),
    shimPid: join(dir, 'shim.pid'),
    childPid: join(dir, 'child.pid'),
    exit: join(dir, 'exit.json'),
    stopRequested: join(dir, 'stop-requested'),
    stdout: join(dir, 'stdout.log'),
    stderr: join(dir, 'stderr.log'),
  };
}

/**
 * The shim: writes its pid, runs the job in the background, writes the job's pid, waits, and
 * writes the exit status atomically. `wait` gives 128+N for a job killed by signal N.
 */
const SHIM_SCRIPT = `dir=$1; shift
echo $$ > "$dir/shim.pid.tmp" && mv -f "$dir/shim.pid.tmp" "$dir/shim.pid"
"$@" &
child=$!
echo "$child" > "$dir/child.pid.tmp" && mv -f "$dir/child.pid.tmp" "$dir/child.pid"
wait "$child"
rc=$?
ms=$(date +%s%3N 2>/dev/null)
case "$ms" in *N*|'') ms=$(( $(date +%s) * 1000 ));; esac
printf '{"code":%d,"atMs":%s}\\n' "$rc" "$ms" > "$dir/exit.json.tmp" && mv -f "$dir/exit.json.tmp" "$dir/exit.json"
`;

/** Runs as the job's own first process: joins the limits, then becomes the command (exec keeps the pid). */
const JOIN_SCRIPT = `for f in $SHOAL_CGROUP_PROCS; do echo $$ > "$f" || { echo "shoal: cannot join cgroup $f" >&2; exit 125; }; done
if [ -n "\${SHOAL_RLIMIT_AS_KIB:-}" ]; then ulimit -v "$SHOAL_RLIMIT_AS_KIB" || { echo "shoal: cannot set RLIMIT_AS" >&2; exit 125; }; fi
exec "$@"
`;

/** Exit status the JOIN script uses when the limits could not be applied. */
const EXIT_LIMITS_FAILED = 125;

export class ProcessDriver implements Driver {
  readonly name: DriverName = 'process';
  private readonly opts: ProcessDriverOptions;
  private readonly log: HostLogger | null;
  private backendPromise: Promise<LimitBackend | { unusable: string }> | undefined;
  private warned = false;

  constructor(opts: ProcessDriverOptions, modules: ProcessDriverModules = { log: null }) {
    this.opts = opts;
    this.log = modules.log;
  }

  get procsDir(): string {
    return join(this.opts.dataDir, 'procs');
  }

  async probe(opts?: DriverCallOptions): Promise<ProbeResult> {
    CallScope.begin('process probe', opts, this.opts.callTimeoutMs);
    const b = await this.backend();
    if ('unusable' in b) return { available: false, reason: `no way to limit processes: ${b.unusable}`, details: {} };
    const setsid = await which('setsid');
    return { available: true, details: { limitMode: b.mode, ...b.details, processGroups: setsid !== undefined } };
  }

  async create(job: DriverJob, opts?: DriverCallOptions): Promise<{ ref: string }> {
    CallScope.begin(`process create ${job.jobId}`, opts, this.opts.callTimeoutMs);
    if (job.spec.kind !== 'process' || !job.spec.command) {
      throw new DriverError('DRIVER_INVALID_JOB', `the process driver runs process jobs with a command, not ${job.spec.kind} jobs`, { jobId: job.jobId });
    }
    if (!/^[A-Za-z0-9_-]{1,64}$/.test(job.jobId)) throw new DriverError('DRIVER_INVALID_JOB', `job id ${JSON.stringify(job.jobId)} cannot name a directory`, { jobId: job.jobId });
    await this.resolveCommand(job.spec.command[0]!, 'DRIVER_INVALID_JOB');
    const dir = resolve(job.dataDir, 'procs', job.jobId);
    const layout = procLayout(dir);
    if (await exists(layout.manifest)) throw new DriverError('DRIVER_ALREADY_EXISTS', `a process for job ${job.jobId} already exists in ${dir}`, { ref: dir });
    await rm(dir, { recursive: true, force: true }); // leftover of a create that died before its manifest
    try {
      await mkdir(dir, { recursive: true, mode: 0o750 });
      const manifest: ProcManifest = {
        version: 1,
        jobId: job.jobId,
        name: job.name,
        tenant: job.spec.tenant,
        command: job.spec.command,
        vcpus: job.spec.resources.vcpus,
        memoryMiB: job.spec.resources.memoryMiB,
        createdAtMs: Date.now(),
      };
      await writeJsonAtomic(layout.manifest, manifest);
    } catch (err) {
      await rm(dir, { recursive: true, force: true });
      throw new DriverError('DRIVER_IO_FAILED', `cannot prepare ${dir}: ${(err as Error).message}`, { ref: dir }, err);
    }
    return { ref: dir };
  }

  async start(ref: string, opts?: DriverCallOptions): Promise<void> {
    const layout = this.layout(ref, 'start');
    const scope = CallScope.begin(`process start ${basename(ref)}`, opts, this.opts.callTimeoutMs);
    const m = await this.readManifest(layout);
    if (!m) throw new DriverError('DRIVER_NOT_FOUND', `no process job at ${ref}`, { ref });
    if (await this.isUp(layout)) return; // adopted or already started: never a second copy
    const backend = await this.requireBackend();
    const program = await this.resolveCommand(m.command[0]!, 'DRIVER_START_FAILED');
    for (const f of [layout.exit, layout.childPid, layout.shimPid, layout.stopRequested]) await rm(f, { force: true });
    const launch = await backend.prepare(m.jobId, { memoryBytes: m.memoryMiB * 1024 * 1024, vcpus: m.vcpus }).catch((err: unknown) => {
      throw new DriverError('DRIVER_START_FAILED', `cannot set ${backend.mode} limits for ${m.name}: ${(err as Error).message}`, { ref, mode: backend.mode }, err);
    });
    const setsid = await which('setsid');
    const jobArgv = [...launch.prefix, program, ...m.command.slice(1)];
    // setsid gives the job its own process group, so stop() reaches the processes it forks.
    const childArgv = [...(setsid ? [setsid] : []), '/bin/sh', '-c', JOIN_SCRIPT, 'shoal-job', ...jobArgv];
    const env: NodeJS.ProcessEnv = {
      PATH: process.env.PATH ?? '/usr/local/bin:/usr/bin:/bin',
      LANG: process.env.LANG ?? 'C.UTF-8',
      HOME: layout.dir,
      SHOAL_JOB_ID: m.jobId,
      SHOAL_PROC_DIR: layout.dir,
      SHOAL_CGROUP_PROCS: launch.cgroupProcsFiles.join(' '),
      SHOAL_RLIMIT_AS_KIB: launch.addressSpaceKiB === undefined ? '' : String(launch.addressSpaceKiB),
    };
    const out = openSync(layout.stdout, 'a', 0o640);
    const err = openSync(layout.stderr, 'a', 0o640);
    try {
      const shim = spawn('/bin/sh', ['-c', SHIM_SCRIPT, 'shoal-shim', layout.dir, ...childArgv], {
        detached: true, // own session: outlives the agent and ignores its terminal's signals
        stdio: ['ignore', out, err],
        cwd: layout.dir,
        env,
      });
      shim.on('error', () => undefined); // reported through the missing pid file below
      shim.unref();
    } finally {
      closeSync(out);
      closeSync(err);
    }
    const started = await scope.waitFor(async () => (await exists(layout.childPid)) || (await exists(layout.exit)), Math.min(this.opts.startTimeoutMs, scope.remainingMs()), 10);
    if (!started) {
      await this.killAll(layout, m.jobId, 'SIGKILL');
      throw new DriverError('DRIVER_START_FAILED', `the supervisor for ${m.name} did not report a pid within ${this.opts.startTimeoutMs} ms`, { ref });
    }
    // Resolve only once the job's own program runs (or has already ended), so callers never see the wrappers.
    const childPid = await readPidFile(layout.childPid);
    const execed = await scope.waitFor(
      async () => (await exists(layout.exit)) || (childPid !== undefined && isJobProgram(await readCmdline(childPid), setsid)),
      Math.min(this.opts.startTimeoutMs, scope.remainingMs()),
      5,
    );
    if (!execed) {
      await this.killAll(layout, m.jobId, 'SIGKILL');
      throw new DriverError('DRIVER_START_FAILED', `${m.name} did not reach its command within ${this.opts.startTimeoutMs} ms`, { ref });
    }
    const exit = await readJson<{ code: number }>(layout.exit);
    if (exit?.code === EXIT_LIMITS_FAILED) {
      throw new DriverError('DRIVER_START_FAILED', `${m.name} could not join its limits: ${await tail(layout.stderr)}`, { ref, mode: backend.mode });
    }
    this.log?.info({ ref, jobId: m.jobId, mode: backend.mode }, 'process job started');
  }

  async stop(ref: string, stopOpts: StopOptions, opts?: DriverCallOptions): Promise<void> {
    const layout = this.layout(ref, 'stop');
    const scope = CallScope.begin(`process stop ${basename(ref)}`, opts, Math.max(this.opts.callTimeoutMs, stopOpts.graceMs + this.opts.killTimeoutMs * 3));
    const m = await this.readManifest(layout);
    if (!m) return;
    await this.stopUnlocked(layout, m.jobId, stopOpts.graceMs, scope);
  }

  async destroy(ref: string, opts?: DriverCallOptions): Promise<void> {
    const layout = this.layout(ref, 'destroy');
    const scope = CallScope.begin(`process destroy ${basename(ref)}`, opts, this.opts.callTimeoutMs);
    const m = await this.readManifest(layout);
    if (m) {
      await this.stopUnlocked(layout, m.jobId, 0, scope);
      const b = await this.backend();
      if (!('unusable' in b)) await b.remove(m.jobId);
    }
    await rm(layout.dir, { recursive: true, force: true });
  }

  async list(opts?: DriverCallOptions): Promise<Instance[]> {
    const scope = CallScope.begin('process list', opts, this.opts.callTimeoutMs);
    let entries: string[] = [];
    try {
      entries = await readdir(this.procsDir);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw new DriverError('DRIVER_IO_FAILED', `cannot read ${this.procsDir}: ${(err as Error).message}`, {}, err);
    }
    const out: Instance[] = [];
    for (const entry of entries.sort()) {
      scope.check();
      const layout = procLayout(join(this.procsDir, entry));
      const m = await this.readManifest(layout);
      if (!m) continue;
      const state = await this.statusOf(layout);
      const pid = await this.childPid(layout);
      const st = pid ? await readProcStat(pid) : undefined;
      out.push({ ref: layout.dir, name: m.name, state, jobId: m.jobId, vcpus: m.vcpus, memoryMiB: m.memoryMiB, ...(st ? { startedAtMs: st.startedAtMs } : {}) });
    }
    return out;
  }

  async status(ref: string, opts?: DriverCallOptions): Promise<InstanceStatus> {
    CallScope.begin(`process status ${basename(ref)}`, opts, this.opts.callTimeoutMs);
    return this.statusOf(this.layout(ref, 'status'));
  }

  async stats(ref: string, opts?: DriverCallOptions): Promise<InstanceStats> {
    CallScope.begin(`process stats ${basename(ref)}`, opts, this.opts.callTimeoutMs);
    const layout = this.layout(ref, 'stats');
    const m = await this.readManifest(layout);
    const pid = await this.childPid(layout);
    if (!m || !pid) return {};
    const [st, rss] = await Promise.all([readProcStat(pid), readRssBytes(pid)]);
    const b = await this.backend();
    const cg = 'unusable' in b ? {} : await b.usage(m.jobId);
    return {
      pid,
      ...(st ? { startedAtMs: st.startedAtMs, cpuSeconds: st.cpuSeconds } : {}),
      ...(rss === undefined ? {} : { memoryBytes: rss }),
      ...cg, // the cgroup's view covers the job's children too, so it wins
    };
  }

  async lastExit(ref: string, opts?: DriverCallOptions): Promise<ExitInfo | undefined> {
    CallScope.begin(`process lastExit ${basename(ref)}`, opts, this.opts.callTimeoutMs);
    const layout = this.layout(ref, 'lastExit');
    const m = await this.readManifest(layout);
    if (!m || (await this.isUp(layout))) return undefined;
    const requested = await exists(layout.stopRequested);
    const exit = await readJson<{ code: number; atMs?: number }>(layout.exit);
    if (!exit) {
      if (!(await exists(layout.shimPid))) return undefined; // never started
      return { oomKilled: false, requested, reason: requested ? 'stopped on request' : 'the process and its supervisor disappeared (killed from outside, or the host restarted)' };
    }
    const b = await this.backend();
    const oomKilled = !('unusable' in b) && (await b.oomKilled(m.jobId));
    const signal = exit.code > 128 ? signalName(exit.code - 128) : undefined;
    const base = { oomKilled, requested, ...(exit.atMs ? { atMs: exit.atMs } : {}) };
    if (oomKilled) return { ...base, ...(signal ? { signal } : { exitCode: exit.code }), reason: `OOM-killed: exceeded its memory limit of ${m.memoryMiB} MiB` };
    if (requested) return { ...base, ...(signal ? { signal } : { exitCode: exit.code }), reason: 'stopped on request' };
    if (exit.code === EXIT_LIMITS_FAILED) return { ...base, exitCode: exit.code, reason: `could not apply its limits: ${await tail(layout.stderr)}` };
    if (signal) return { ...base, signal, reason: `killed by ${signal}` };
    return { ...base, exitCode: exit.code, reason: `exited with code ${exit.code}` };
  }

  // ---- internals ----

  private async stopUnlocked(layout: ProcLayout, jobId: string, graceMs: number, scope: CallScope): Promise<void> {
    if (!(await this.isUp(layout))) return;
    await writeFile(layout.stopRequested, String(Date.now()));
    if (graceMs > 0) {
      await this.killAll(layout, jobId, 'SIGTERM');
      if (await scope.waitFor(async () => !(await this.childPid(layout)), Math.min(graceMs, scope.remainingMs()), 20)) {
        await this.waitShim(layout, scope);
        return;
      }
    }
    await this.killAll(layout, jobId, 'SIGKILL');
    if (!(await scope.waitFor(async () => !(await this.childPid(layout)), Math.min(this.opts.killTimeoutMs, scope.remainingMs()), 20))) {
      throw new DriverError('DRIVER_STOP_FAILED', `process job ${jobId} survived SIGKILL for ${this.opts.killTimeoutMs} ms`, { ref: layout.dir });
    }
    await this.waitShim(layout, scope);
  }

  /** Lets the shim record the exit status, so lastExit() sees this run's end. */
  private async waitShim(layout: ProcLayout, scope: CallScope): Promise<void> {
    await scope.waitFor(async () => !(await this.shimPid(layout)), Math.min(this.opts.killTimeoutMs, scope.remainingMs()), 10);
  }

  /** Signals the job's process group and everything in its cgroup. */
  private async killAll(layout: ProcLayout, jobId: string, signal: NodeJS.Signals): Promise<void> {
    const pid = await this.childPid(layout);
    if (pid) {
      const st = await readProcStat(pid);
      // Only a group the job leads: the shim's group would include the shim, which must survive to record the exit.
      if (st && st.pgrp === pid) signalProcess(-pid, signal);
      else signalProcess(pid, signal);
    }
    const b = await this.backend();
    if (!('unusable' in b)) await b.signalAll(jobId, signal);
  }

  private async statusOf(layout: ProcLayout): Promise<InstanceStatus> {
    if (!(await this.readManifest(layout))) return 'missing';
    const child = await this.childPid(layout);
    if (child) {
      const st = await readProcStat(child);
      return st?.state === 'T' ? 'paused' : 'running';
    }
    const exit = await readJson<{ code: number }>(layout.exit);
    if (exit) return exit.code === 0 || (await exists(layout.stopRequested)) ? 'stopped' : 'crashed';
    if (await this.shimPid(layout)) return 'running'; // between spawn and the child's pid file
    if (!(await exists(layout.shimPid))) return 'stopped'; // created, never started
    return (await exists(layout.stopRequested)) ? 'stopped' : 'crashed';
  }

  private async isUp(layout: ProcLayout): Promise<boolean> {
    return (await this.childPid(layout)) !== undefined || ((await this.shimPid(layout)) !== undefined && !(await exists(layout.exit)));
  }

  /** The job's pid if alive and really this job's (its environment names this directory). */
  private async childPid(layout: ProcLayout): Promise<number | undefined> {
    const pid = await readPidFile(layout.childPid);
    if (!pid || !(await processAlive(pid))) return undefined;
    try {
      const env = await readFile(`/proc/${pid}/environ`, 'utf8');
      return env.includes(`\0SHOAL_PROC_DIR=${layout.dir}\0`) || env.startsWith(`SHOAL_PROC_DIR=${layout.dir}\0`) ? pid : undefined;
    } catch {
      return undefined;
    }
  }

  private async shimPid(layout: ProcLayout): Promise<number | undefined> {
    const pid = await readPidFile(layout.shimPid);
    if (!pid || !(await processAlive(pid))) return undefined;
    return (await readCmdline(pid)).includes(layout.dir) ? pid : undefined;
  }

  private layout(ref: string, op: string): ProcLayout {
    if (!isAbsolute(ref) || basename(dirname(ref)) !== 'procs') {
      throw new DriverError('DRIVER_NOT_FOUND', `process ${op}: ${JSON.stringify(ref)} is not a process driver ref (a <dataDir>/procs/<jobId> directory)`, { ref });
    }
    return procLayout(ref);
  }

  private async readManifest(layout: ProcLayout): Promise<ProcManifest | undefined> {
    const m = await readJson<ProcManifest>(layout.manifest);
    return m?.version === 1 && Array.isArray(m.command) ? m : undefined;
  }

  private backend(): Promise<LimitBackend | { unusable: string }> {
    this.backendPromise ??= detectLimitBackend(this.opts.limitMode, this.opts.limitDetect).then((b) => {
      if (!('unusable' in b) && b.mode === 'rlimit' && !this.warned) {
        this.warned = true;
        this.log?.warn({ mode: b.mode }, String(b.details.warning));
      }
      return b;
    });
    return this.backendPromise;
  }

  private async requireBackend(): Promise<LimitBackend> {
    const b = await this.backend();
    if ('unusable' in b) throw new DriverError('DRIVER_UNAVAILABLE', `no way to limit processes here: ${b.unusable}`, {});
    return b;
  }

  private async resolveCommand(program: string, code: 'DRIVER_INVALID_JOB' | 'DRIVER_START_FAILED'): Promise<string> {
    const found = program.includes('/') ? ((await isExecutable(program)) ? program : undefined) : await which(program);
    if (!found) throw new DriverError(code, `command ${JSON.stringify(program)} is not an executable file${program.includes('/') ? '' : ' on PATH'}`, { command: program });
    return found;
  }
}

/** True once the process has exec'd the job's program: it no longer shows the shim's, setsid's or the join script's argv. */
function isJobProgram(argv: readonly string[], setsid: string | undefined): boolean {
  if (argv.length === 0) return false; // gone (zombie) or unreadable: the exit file will tell
  if (setsid !== undefined && argv[0] === setsid) return false;
  return !(argv[0] === '/bin/sh' && argv[1] === '-c' && (argv[3] === 'shoal-job' || argv[3] === 'shoal-shim'));
}

async function isExecutable(path: string): Promise<boolean> {
  try {
    await access(path, fsConstants.X_OK);
    return true;
  } catch {
    return false;
  }
}

async function which(program: string): Promise<string | undefined> {
  for (const dir of (process.env.PATH ?? '/usr/bin:/bin').split(delimiter)) {
    if (!dir) continue;
    const p = join(dir, program);
    if (await isExecutable(p)) return p;
  }
  return undefined;
}

function signalName(n: number): string | undefined {
  for (const [name, num] of Object.entries(osConstants.signals)) if (num === n) return name;
  return undefined;
}

/** The last line of a log file, for an error message. */
async function tail(path: string): Promise<string> {
  try {
    const lines = (await readFile(path, 'utf8')).trim().split('\n');
    return lines[lines.length - 1] ?? '';
  } catch {
    return '';
  }
}
