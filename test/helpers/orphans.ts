import { readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { SHOAL } from './agent-process.ts';

/**
 * Agents this checkout's e2e harness started in an earlier run whose test runner is gone
 * (mocha killed with SIGKILL leaves its children running). Such an orphan keeps gossiping,
 * and keeps restarting the VMs it owns, so the next run's QEMU tests see strangers. An agent
 * counts only if it runs this checkout's `bin/shoal.js agent` on a data dir under the temp
 * directory and its parent is not a mocha process: a concurrent test run keeps its agents.
 */
export function orphanedTestAgents(): number[] {
  const out: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const pid = Number(entry);
    const argv = cmdline(pid);
    if (!argv.includes(SHOAL) || !argv.includes('agent')) continue;
    const at = argv.indexOf('--data-dir');
    const dataDir = at < 0 ? undefined : argv[at + 1];
    if (dataDir === undefined || !dataDir.startsWith(tmpdir())) continue;
    if (cmdline(parentOf(pid)).some((a) => a.includes('mocha'))) continue;
    out.push(pid);
  }
  return out;
}

/** Kills them; returns their pids, for the log. */
export function killOrphanedTestAgents(): number[] {
  const pids = orphanedTestAgents();
  for (const pid of pids) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // gone already
    }
  }
  return pids;
}

function cmdline(pid: number): string[] {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter(Boolean);
  } catch {
    return [];
  }
}

function parentOf(pid: number): number {
  try {
    // The command name in field 2 may hold spaces and parentheses: read after the last ')'.
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
  } catch {
    return 0;
  }
}
