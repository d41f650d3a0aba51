import { mkdir, readFile, rmdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { exists } from './atomic-file.ts';
import { signalProcess } from './proc-fs.ts';

/**
 * Resource limits for process jobs, in the best form the host offers:
 *  - `systemd`: a transient scope (`systemd-run --scope -p MemoryMax -p CPUQuota`);
 *  - `cgroup2`: a child cgroup under `<unified root>/<parent>/` with memory.max and cpu.max;
 *  - `cgroup1`: the same on the legacy memory/cpu/cpuacct hierarchies;
 *  - `rlimit`: no cgroups at all, only an address-space rlimit, and no CPU limit.
 * With a cgroup the kernel OOM-kills a job that exceeds its memory, and the kill is counted,
 * so the driver can say why the job died.
 */

export type LimitMode = 'systemd' | 'cgroup2' | 'cgroup1' | 'rlimit';

export interface JobLimits {
  readonly memoryBytes: number;
  readonly vcpus: number;
}

/** How the child joins its limits before it execs the job's command. */
export interface LimitLaunch {
  /** Prepended to the command (systemd-run …). */
  readonly prefix: readonly string[];
  /** `cgroup.procs` files the child writes its own pid into. */
  readonly cgroupProcsFiles: readonly string[];
  /** RLIMIT_AS in KiB, for rlimit mode. */
  readonly addressSpaceKiB?: number;
}

export interface LimitUsage {
  readonly cpuSeconds?: number;
  readonly memoryBytes?: number;
}

export interface LimitBackend {
  readonly mode: LimitMode;
  readonly details: Record<string, unknown>;
  /** Creates fresh limits for one run of `jobId` (counters start at zero) and says how to join them. */
  prepare(jobId: string, limits: JobLimits): Promise<LimitLaunch>;
  /** True when the kernel OOM-killed something in this job's limits since prepare(). */
  oomKilled(jobId: string): Promise<boolean>;
  usage(jobId: string): Promise<LimitUsage>;
  /** Signals every process inside the job's limits; returns how many were signalled. */
  signalAll(jobId: string, signal: NodeJS.Signals): Promise<number>;
  remove(jobId: string): Promise<void>;
}

const CPU_PERIOD_US = 100_000; // 100 ms: the kernel's default CFS period

export interface LimitDetectOptions {
  /** Cgroup (relative to each hierarchy root) under which job cgroups are created. */
  readonly cgroupParent: string;
  readonly cgroupRoot: string;
  readonly mountinfoPath: string;
  readonly systemdRuntimeDir: string;
}

export const defaultLimitDetectOptions: LimitDetectOptions = {
  cgroupParent: 'shoal', // one subtree for every Shoal job, outside the agent's own cgroup so jobs outlive it
  cgroupRoot: '/sys/fs/cgroup', // where the unified (v2) hierarchy is mounted on a pure-v2 host
  mountinfoPath: '/proc/self/mountinfo', // v1 hierarchies are found from the mount table, wherever mounted
  systemdRuntimeDir: '/run/systemd/system', // exists only when systemd is PID 1 (sd_booted)
};

/** Picks the first mode that works here, in the order systemd → cgroup2 → cgroup1 → rlimit, unless one is forced. */
export async function detectLimitBackend(want: 'auto' | LimitMode, opts: LimitDetectOptions = defaultLimitDetectOptions): Promise<LimitBackend | { unusable: string }> {
  const tried: string[] = [];
  const order: LimitMode[] = want === 'auto' ? ['systemd', 'cgroup2', 'cgroup1', 'rlimit'] : [want];
  for (const mode of order) {
    const r = await tryMode(mode, opts);
    if (typeof r === 'string') tried.push(`${mode}: ${r}`);
    else return r;
  }
  return { unusable: tried.join('; ') };
}

async function tryMode(mode: LimitMode, opts: LimitDetectOptions): Promise<LimitBackend | string> {
  switch (mode) {
    case 'systemd': {
      if (!(await exists(opts.systemdRuntimeDir))) return 'systemd is not the init system';
      return new SystemdLimits();
    }
    case 'cgroup2': {
      let controllers: string;
      try {
        controllers = await readFile(join(opts.cgroupRoot, 'cgroup.controllers'), 'utf8');
      } catch {
        return `${opts.cgroupRoot} is not a cgroup2 mount`;
      }
      const have = new Set(controllers.trim().split(/\s+/));
      if (!have.has('memory') || !have.has('cpu')) return `cgroup2 lacks the memory/cpu controllers (has: ${controllers.trim() || 'none'})`;
      const parent = join(opts.cgroupRoot, opts.cgroupParent);
      try {
        await mkdir(parent, { recursive: true });
        await enableControllers(opts.cgroupRoot, parent);
      } catch (err) {
        return `cannot create ${parent}: ${(err as Error).message}`;
      }
      return new Cgroup2Limits(parent);
    }
    case 'cgroup1': {
      const mounts = await cgroup1Mounts(opts.mountinfoPath);
      const memory = mounts.get('memory');
      const cpu = mounts.get('cpu');
      if (!memory || !cpu) return 'no cgroup v1 memory and cpu hierarchies mounted';
      const dirs = { memory: join(memory, opts.cgroupParent), cpu: join(cpu, opts.cgroupParent), cpuacct: mounts.get('cpuacct') ? join(mounts.get('cpuacct')!, opts.cgroupParent) : undefined };
      try {
        for (const d of new Set(Object.values(dirs).filter((d): d is string => d !== undefined))) await mkdir(d, { recursive: true });
      } catch (err) {
        return `cgroup v1 hierarchies are not writable: ${(err as Error).message}`;
      }
      return new Cgroup1Limits(dirs);
    }
    case 'rlimit':
      return new RlimitLimits();
  }
}

/** Enables memory and cpu for children along the path root → parent (cgroup2 delegates controllers top-down). */
async function enableControllers(root: string, parent: string): Promise<void> {
  for (const dir of [root, parent]) {
    const current = await readFile(join(dir, 'cgroup.subtree_control'), 'utf8');
    const missing = ['memory', 'cpu'].filter((c) => !current.split(/\s+/).includes(c));
    if (missing.length > 0) await writeFile(join(dir, 'cgroup.subtree_control'), missing.map((c) => `+${c}`).join(' '));
  }
}

/** controller → mount point of each cgroup v1 hierarchy, from mountinfo. */
export async function cgroup1Mounts(mountinfoPath: string): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  let text = '';
  try {
    text = await readFile(mountinfoPath, 'utf8');
  } catch {
    return out;
  }
  for (const line of text.split('\n')) {
    const sep = line.indexOf(' - ');
    if (sep < 0) continue;
    const [fstype, , superOpts] = line.slice(sep + 3).split(' ');
    if (fstype !== 'cgroup' || !superOpts) continue;
    const mountPoint = line.slice(0, sep).split(' ')[4];
    if (!mountPoint) continue;
    for (const opt of superOpts.split(',')) {
      if (opt === 'rw' || opt === 'ro' || out.has(opt)) continue;
      out.set(opt, mountPoint.replace(/\\040/g, ' '));
    }
  }
  return out;
}

async function readPids(procsFile: string): Promise<number[]> {
  try {
    return (await readFile(procsFile, 'utf8'))
      .split('\n')
      .filter((l) => l.trim() !== '')
      .map(Number);
  } catch {
    return [];
  }
}

async function signalPids(pids: number[], signal: NodeJS.Signals): Promise<number> {
  let n = 0;
  for (const pid of pids) if (signalProcess(pid, signal)) n++;
  return n;
}

async function readNumber(path: string): Promise<number | undefined> {
  try {
    const n = Number((await readFile(path, 'utf8')).trim());
    return Number.isFinite(n) ? n : undefined;
  } catch {
    return undefined;
  }
}

/** Reads `key value` lines (memory.events, cpu.stat, memory.oom_control). */
async function readKeyed(path: string, key: string): Promise<number | undefined> {
  try {
    const m = new RegExp(`^${key} (\\d+)$`, 'm').exec(await readFile(path, 'utf8'));
    return m ? Number(m[1]) : undefined;
  } catch {
    return undefined;
  }
}

/** rmdir of a cgroup, killing stragglers first; a cgroup with live members cannot be removed. */
async function removeCgroup(dir: string): Promise<void> {
  if (!(await exists(dir))) return;
  await signalPids(await readPids(join(dir, 'cgroup.procs')), 'SIGKILL');
  for (let i = 0; i < 50; i++) {
    try {
      await rmdir(dir);
      return;
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'ENOENT') return;
      if (code !== 'EBUSY') throw err;
      // Killed members take a moment to leave the cgroup.
      await new Promise((r) => setTimeout(r, 20));
    }
  }
  throw new Error(`cgroup ${dir} still busy after its processes were killed`);
}

class Cgroup2Limits implements LimitBackend {
  readonly mode = 'cgroup2' as const;
  readonly details: Record<string, unknown>;
  private readonly parent: string;

  constructor(parent: string) {
    this.parent = parent;
    this.details = { cgroupParent: parent };
  }

  private dir(jobId: string): string {
    return join(this.parent, jobId);
  }

  async prepare(jobId: string, limits: JobLimits): Promise<LimitLaunch> {
    const dir = this.dir(jobId);
    await removeCgroup(dir); // fresh counters for each run
    await mkdir(dir);
    await writeFile(join(dir, 'memory.max'), String(limits.memoryBytes));
    // Without this the job would spill into swap instead of being OOM-killed at its limit.
    await writeFile(join(dir, 'memory.swap.max'), '0').catch(() => undefined);
    await writeFile(join(dir, 'cpu.max'), `${Math.round(limits.vcpus * CPU_PERIOD_US)} ${CPU_PERIOD_US}`);
    return { prefix: [], cgroupProcsFiles: [join(dir, 'cgroup.procs')] };
  }

  async oomKilled(jobId: string): Promise<boolean> {
    return ((await readKeyed(join(this.dir(jobId), 'memory.events'), 'oom_kill')) ?? 0) > 0;
  }

  async usage(jobId: string): Promise<LimitUsage> {
    const usec = await readKeyed(join(this.dir(jobId), 'cpu.stat'), 'usage_usec');
    const mem = await readNumber(join(this.dir(jobId), 'memory.current'));
    return { ...(usec === undefined ? {} : { cpuSeconds: usec / 1e6 }), ...(mem === undefined ? {} : { memoryBytes: mem }) };
  }

  async signalAll(jobId: string, signal: NodeJS.Signals): Promise<number> {
    const dir = this.dir(jobId);
    if (signal === 'SIGKILL' && (await exists(join(dir, 'cgroup.kill')))) {
      const n = (await readPids(join(dir, 'cgroup.procs'))).length;
      await writeFile(join(dir, 'cgroup.kill'), '1');
      return n;
    }
    return signalPids(await readPids(join(dir, 'cgroup.procs')), signal);
  }

  async remove(jobId: string): Promise<void> {
    await removeCgroup(this.dir(jobId));
  }
}

class Cgroup1Limits implements LimitBackend {
  readonly mode = 'cgroup1' as const;
  readonly details: Record<string, unknown>;
  private readonly parents: { memory: string; cpu: string; cpuacct: string | undefined };

  constructor(parents: { memory: string; cpu: string; cpuacct: string | undefined }) {
    this.parents = parents;
    this.details = { cgroupParents: parents };
  }

  private dirs(jobId: string): { memory: string; cpu: string; cpuacct: string | undefined } {
    return {
      memory: join(this.parents.memory, jobId),
      cpu: join(this.parents.cpu, jobId),
      cpuacct: this.parents.cpuacct ? join(this.parents.cpuacct, jobId) : undefined,
    };
  }

  private unique(jobId: string): string[] {
    return [...new Set(Object.values(this.dirs(jobId)).filter((d): d is string => d !== undefined))];
  }

  async prepare(jobId: string, limits: JobLimits): Promise<LimitLaunch> {
    const d = this.dirs(jobId);
    for (const dir of this.unique(jobId)) {
      await removeCgroup(dir); // fresh counters (oom_kill, cpuacct.usage) for each run
      await mkdir(dir);
    }
    await writeFile(join(d.memory, 'memory.limit_in_bytes'), String(limits.memoryBytes));
    // memsw (memory+swap) exists only with swap accounting; when it does, cap it too so the job cannot swap past its limit.
    if (await exists(join(d.memory, 'memory.memsw.limit_in_bytes'))) {
      await writeFile(join(d.memory, 'memory.memsw.limit_in_bytes'), String(limits.memoryBytes)).catch(() => undefined);
    }
    await writeFile(join(d.cpu, 'cpu.cfs_period_us'), String(CPU_PERIOD_US));
    await writeFile(join(d.cpu, 'cpu.cfs_quota_us'), String(Math.round(limits.vcpus * CPU_PERIOD_US)));
    return { prefix: [], cgroupProcsFiles: this.unique(jobId).map((dir) => join(dir, 'cgroup.procs')) };
  }

  async oomKilled(jobId: string): Promise<boolean> {
    return ((await readKeyed(join(this.dirs(jobId).memory, 'memory.oom_control'), 'oom_kill')) ?? 0) > 0;
  }

  async usage(jobId: string): Promise<LimitUsage> {
    const d = this.dirs(jobId);
    const ns = d.cpuacct ? await readNumber(join(d.cpuacct, 'cpuacct.usage')) : undefined;
    const mem = await readNumber(join(d.memory, 'memory.usage_in_bytes'));
    return { ...(ns === undefined ? {} : { cpuSeconds: ns / 1e9 }), ...(mem === undefined ? {} : { memoryBytes: mem }) };
  }

  async signalAll(jobId: string, signal: NodeJS.Signals): Promise<number> {
    return signalPids(await readPids(join(this.dirs(jobId).memory, 'cgroup.procs')), signal);
  }

  async remove(jobId: string): Promise<void> {
    for (const dir of this.unique(jobId)) await removeCgroup(dir);
  }
}

class SystemdLimits implements LimitBackend {
  readonly mode = 'systemd' as const;
  readonly details: Record<string, unknown> = {};

  private unit(jobId: string): string {
    return `shoal-${jobId}.scope`;
  }

  async prepare(jobId: string, limits: JobLimits): Promise<LimitLaunch> {
    return {
      prefix: [
        'systemd-run',
        '--scope',
        '--quiet',
        '--collect',
        `--unit=${this.unit(jobId)}`,
        '-p',
        `MemoryMax=${limits.memoryBytes}`,
        '-p',
        'MemorySwapMax=0',
        '-p',
        `CPUQuota=${Math.round(limits.vcpus * 100)}%`,
        '--',
      ],
      cgroupProcsFiles: [],
    };
  }

  private async show(jobId: string, props: string[]): Promise<Map<string, string>> {
    const { execFile } = await import('node:child_process');
    const out = await new Promise<string>((resolve) =>
      execFile('systemctl', ['show', this.unit(jobId), ...props.map((p) => `-p${p}`)], { timeout: 5_000 }, (_e, stdout) => resolve(String(stdout ?? ''))),
    );
    const m = new Map<string, string>();
    for (const line of out.split('\n')) {
      const eq = line.indexOf('=');
      if (eq > 0) m.set(line.slice(0, eq), line.slice(eq + 1));
    }
    return m;
  }

  async oomKilled(jobId: string): Promise<boolean> {
    return (await this.show(jobId, ['Result'])).get('Result') === 'oom-kill';
  }

  async usage(jobId: string): Promise<LimitUsage> {
    const m = await this.show(jobId, ['CPUUsageNSec', 'MemoryCurrent']);
    const ns = Number(m.get('CPUUsageNSec'));
    const mem = Number(m.get('MemoryCurrent'));
    return { ...(Number.isFinite(ns) ? { cpuSeconds: ns / 1e9 } : {}), ...(Number.isFinite(mem) ? { memoryBytes: mem } : {}) };
  }

  async signalAll(jobId: string, signal: NodeJS.Signals): Promise<number> {
    const { execFile } = await import('node:child_process');
    await new Promise<void>((resolve) => execFile('systemctl', ['kill', `--signal=${signal}`, this.unit(jobId)], { timeout: 5_000 }, () => resolve()));
    return 1;
  }

  async remove(jobId: string): Promise<void> {
    await this.signalAll(jobId, 'SIGKILL');
  }
}

class RlimitLimits implements LimitBackend {
  readonly mode = 'rlimit' as const;
  readonly details: Record<string, unknown> = {
    warning: 'no systemd and no writable cgroups: memory is capped only as address space (RLIMIT_AS), CPU is not limited, OOM kills are not reported',
  };

  async prepare(_jobId: string, limits: JobLimits): Promise<LimitLaunch> {
    return { prefix: [], cgroupProcsFiles: [], addressSpaceKiB: Math.ceil(limits.memoryBytes / 1024) };
  }

  async oomKilled(): Promise<boolean> {
    return false;
  }

  async usage(): Promise<LimitUsage> {
    return {};
  }

  async signalAll(): Promise<number> {
    return 0;
  }

  async remove(): Promise<void> {}
}
