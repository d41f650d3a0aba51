import { readFile, readdir } from 'node:fs/promises';

/**
 * Reading processes through /proc (Linux). Drivers use it to check that a pid from a pid
 * file is still the process they started (pids get reused), to find QEMU processes, and to
 * read CPU time and RSS without asking the hypervisor.
 */

/** Kernel clock ticks per second for /proc times; 100 on every Linux ABI Node supports. */
const CLOCK_TICKS_PER_SECOND = 100;

export interface ProcStat {
  readonly pid: number;
  readonly comm: string;
  /** One letter: R, S, D, Z (zombie), T… */
  readonly state: string;
  readonly ppid: number;
  readonly pgrp: number;
  readonly cpuSeconds: number;
  /** Wall-clock time the process started, from boot time + its start ticks. */
  readonly startedAtMs: number;
}

/**
 * Wall-clock boot time. /proc/stat's btime is truncated to whole seconds, which would make
 * start times up to 1 s early (and over-bill metering); now − uptime is good to ~10 ms.
 */
async function readBootTimeMs(): Promise<number> {
  const uptime = Number((await readFile('/proc/uptime', 'utf8')).split(' ')[0]);
  return Date.now() - uptime * 1000;
}

/** undefined when the process does not exist. */
export async function readProcStat(pid: number): Promise<ProcStat | undefined> {
  let text: string;
  try {
    text = await readFile(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return undefined;
  }
  // comm may contain spaces and parentheses: it runs from the first '(' to the last ')'.
  const open = text.indexOf('(');
  const close = text.lastIndexOf(')');
  const fields = text.slice(close + 2).split(' ');
  // fields[0] is field 3 (state) of proc(5).
  const utime = Number(fields[11]);
  const stime = Number(fields[12]);
  const startTicks = Number(fields[19]);
  return {
    pid,
    comm: text.slice(open + 1, close),
    state: fields[0] ?? '?',
    ppid: Number(fields[1]),
    pgrp: Number(fields[2]),
    cpuSeconds: (utime + stime) / CLOCK_TICKS_PER_SECOND,
    startedAtMs: (await readBootTimeMs()) + (startTicks / CLOCK_TICKS_PER_SECOND) * 1000,
  };
}

/** Alive and not a zombie. */
export async function processAlive(pid: number): Promise<boolean> {
  const st = await readProcStat(pid);
  return st !== undefined && st.state !== 'Z' && st.state !== 'X';
}

/** argv of a process, [] when it is gone or a kernel thread. */
export async function readCmdline(pid: number): Promise<string[]> {
  try {
    const raw = await readFile(`/proc/${pid}/cmdline`, 'utf8');
    if (raw === '') return [];
    return raw.replace(/\0$/, '').split('\0');
  } catch {
    return [];
  }
}

/** Resident set size in bytes (VmRSS), undefined when gone. */
export async function readRssBytes(pid: number): Promise<number | undefined> {
  try {
    const text = await readFile(`/proc/${pid}/status`, 'utf8');
    const m = /^VmRSS:\s+(\d+)\s+kB/m.exec(text);
    return m ? Number(m[1]) * 1024 : 0;
  } catch {
    return undefined;
  }
}

export async function listPids(): Promise<number[]> {
  const names = await readdir('/proc');
  const out: number[] = [];
  for (const n of names) {
    const c = n.charCodeAt(0);
    if (c >= 48 && c <= 57) out.push(Number(n));
  }
  return out;
}

/** Reads a pid file; undefined when absent or not a positive integer. */
export async function readPidFile(path: string): Promise<number | undefined> {
  try {
    const n = Number((await readFile(path, 'utf8')).trim());
    return Number.isInteger(n) && n > 0 ? n : undefined;
  } catch {
    return undefined;
  }
}

/** Sends a signal; false when the process is already gone. */
export function signalProcess(pid: number, signal: NodeJS.Signals | 0): boolean {
  try {
    process.kill(pid, signal);
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ESRCH') return false;
    throw err;
  }
}
