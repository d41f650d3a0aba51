import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { cpus, loadavg, release, totalmem } from 'node:os';
import { resolve } from 'node:path';
import { serfVersion } from './serf-cluster.ts';

/** The machine a run happened on, for RESULTS.md: figures mean little without it. */
export interface MachineFacts {
  cpuModel: string;
  cores: number;
  memoryGiB: number;
  kernel: string;
  node: string;
  serf: string | null;
  libp2p: string | null;
  gossipsub: string | null;
  gitCommit: string | null;
  /** Uncommitted changes in the tree the figures came from. */
  gitDirty: boolean;
  /** 1-minute load average when the run started: other work on the machine skews latencies. */
  loadAvg1: number;
}

const REPO = resolve(import.meta.dirname, '..');

function packageVersion(name: string): string | null {
  try {
    return (JSON.parse(readFileSync(resolve(REPO, 'node_modules', name, 'package.json'), 'utf8')) as { version?: string }).version ?? null;
  } catch {
    return null;
  }
}

function cpuModel(): string {
  try {
    const m = /^model name\s*:\s*(.+)$/m.exec(readFileSync('/proc/cpuinfo', 'utf8'));
    if (m) return m[1]!.trim();
  } catch {
    // not Linux: fall through
  }
  return cpus()[0]?.model ?? 'unknown';
}

export function machineFacts(serfBin: string): MachineFacts {
  const git = (args: string[]): string | null => {
    const r = spawnSync('git', args, { cwd: REPO, encoding: 'utf8' });
    return r.status === 0 ? r.stdout.trim() : null;
  };
  return {
    cpuModel: cpuModel(),
    cores: cpus().length,
    memoryGiB: totalmem() / 2 ** 30,
    kernel: release(),
    node: process.version,
    serf: serfVersion(serfBin),
    libp2p: packageVersion('libp2p'),
    gossipsub: packageVersion('@libp2p/gossipsub'),
    gitCommit: git(['rev-parse', '--short', 'HEAD']),
    gitDirty: (git(['status', '--porcelain', '--untracked-files=no']) ?? '') !== '',
    loadAvg1: loadavg()[0]!,
  };
}
