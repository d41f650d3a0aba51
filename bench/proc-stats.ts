import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';

/**
 * CPU time and memory of one process, from /proc: the same reading for a Go (Serf) and a
 * Node (Shoal) agent, and nothing the agents report about themselves.
 */

/** Clock ticks per second for /proc/<pid>/stat's utime and stime (getconf CLK_TCK, almost always 100). */
export const CLOCK_TICKS_PER_S: number = (() => {
  const r = spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' });
  const n = Number(r.stdout?.trim());
  return Number.isFinite(n) && n > 0 ? n : 100;
})();

export interface ProcSample {
  /** user + system CPU time since the process started, in ms. */
  cpuMs: number;
  /** Resident set now, in bytes. */
  rssBytes: number;
  /** Peak resident set (VmHWM), in bytes. */
  peakRssBytes: number;
}

/**
 * Parses `/proc/<pid>/stat`. The command name (field 2) may hold spaces and parentheses, so
 * fields are counted from the last ")".
 */
export function parseStatCpuTicks(stat: string): number {
  const close = stat.lastIndexOf(')');
  if (close < 0) throw new Error('malformed /proc stat: no ")"');
  // After ")": field 3 (state) is index 0, so utime (field 14) is index 11 and stime index 12.
  const fields = stat.slice(close + 2).split(' ');
  const utime = Number(fields[11]);
  const stime = Number(fields[12]);
  if (!Number.isFinite(utime) || !Number.isFinite(stime)) throw new Error('malformed /proc stat: utime/stime');
  return utime + stime;
}

/** Reads `VmRSS` and `VmHWM` (kB) from `/proc/<pid>/status` text. */
export function parseStatusMemory(status: string): { rssBytes: number; peakRssBytes: number } {
  const kb = (key: string): number => {
    const m = new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(status);
    return m ? Number(m[1]) * 1024 : 0;
  };
  return { rssBytes: kb('VmRSS'), peakRssBytes: kb('VmHWM') };
}

/** The process's CPU and memory now, or null when it has exited. */
export function sampleProcess(pid: number): ProcSample | null {
  try {
    const ticks = parseStatCpuTicks(readFileSync(`/proc/${pid}/stat`, 'utf8'));
    const mem = parseStatusMemory(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return { cpuMs: (ticks * 1000) / CLOCK_TICKS_PER_S, ...mem };
  } catch {
    return null;
  }
}

/** Busy and total CPU time of the whole machine, in ticks, from the first line of /proc/stat. */
export interface MachineCpu {
  busyTicks: number;
  totalTicks: number;
}

/** Parses the aggregate `cpu` line: user nice system idle iowait irq softirq steal …; idle and iowait are not busy. */
export function parseProcStatCpu(text: string): MachineCpu {
  const line = text.split('\n').find((l) => l.startsWith('cpu '));
  if (!line) throw new Error('malformed /proc/stat: no aggregate cpu line');
  const f = line.trim().split(/\s+/).slice(1, 9).map(Number);
  if (f.length < 4 || f.some((x) => !Number.isFinite(x))) throw new Error('malformed /proc/stat: cpu fields');
  const total = f.reduce((a, b) => a + b, 0);
  const idle = f[3]! + (f[4] ?? 0);
  return { busyTicks: total - idle, totalTicks: total };
}

export function sampleMachineCpu(): MachineCpu | null {
  try {
    return parseProcStatCpu(readFileSync('/proc/stat', 'utf8'));
  } catch {
    return null;
  }
}
