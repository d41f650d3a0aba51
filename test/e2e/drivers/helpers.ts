import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, chmodSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Clock, TimerHandle } from '../../../src/core/clock.ts';
import { JobSpecSchema, type JobSpec, type JobSpecInput } from '../../../src/core/job.ts';

/** Wall-clock Clock for e2e tests (the agent supplies its own). */
export const wallClock: Clock = {
  now: () => Date.now(),
  schedule(delayMs: number, fn: () => void): TimerHandle {
    const t = setTimeout(fn, Math.max(0, delayMs));
    return { cancel: () => clearTimeout(t) };
  },
};

/** Polls `test` until it holds; throws with `what` after `timeoutMs`. Never a blind sleep. */
export async function waitUntil(what: string, test: () => boolean | Promise<boolean>, timeoutMs: number, everyMs = 50): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await test()) return;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting until ${what}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

/** A temp dir that other users (libvirt-qemu) may traverse. Short, because unix socket paths are capped at 107 bytes. */
export function makeTmpDir(prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  chmodSync(dir, 0o755);
  return dir;
}

export function removeDir(dir: string | undefined): void {
  if (dir) rmSync(dir, { recursive: true, force: true });
}

export function hasCommand(cmd: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${cmd}`]).status === 0;
}

/** Skips the suite, printing why, when a hypervisor part is truly absent. */
export function requireCommands(ctx: Mocha.Context, ...cmds: string[]): void {
  const missing = cmds.filter((c) => !hasCommand(c));
  if (missing.length > 0) {
    console.log(`    skipped: ${missing.join(', ')} not installed (run scripts/setup-hypervisors.sh)`);
    ctx.skip();
  }
}

/** A tiny qcow2 image made with qemu-img; it boots nothing, which is fine: the VM sits in firmware. */
export function makeImage(dir: string, name = 'base.qcow2', size = '16M'): string {
  const path = join(dir, name);
  execFileSync('qemu-img', ['create', '-q', '-f', 'qcow2', path, size]);
  chmodSync(path, 0o644);
  return path;
}

/** Pids of live processes whose argv contains `needle` (pgrep -f, without matching pgrep itself). */
export function pidsMatching(needle: string): number[] {
  const r = spawnSync('pgrep', ['-f', '--', needle], { encoding: 'utf8' });
  return r.stdout
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map(Number)
    .filter((pid) => pid !== process.pid);
}

/** Pids of processes whose argv[0] ends in `program` and whose arguments are exactly `args` (not wrappers that mention them). */
export function pidsOfCommand(program: string, ...args: string[]): number[] {
  const escape = (x: string): string => x.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  const re = `^(\\S*/)?${escape(program)}${args.map((a) => ` ${escape(a)}`).join('')}$`;
  const r = spawnSync('pgrep', ['-f', '--', re], { encoding: 'utf8' });
  return r.stdout
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map(Number);
}

export function vmSpec(input: Partial<JobSpecInput> = {}): JobSpec {
  return JobSpecSchema.parse({ name: 'vm1', kind: 'vm', resources: { vcpus: 1, memoryMiB: 64 }, ...input });
}

export function processSpec(input: Partial<JobSpecInput> = {}): JobSpec {
  return JobSpecSchema.parse({ name: 'proc1', kind: 'process', resources: { vcpus: 1, memoryMiB: 64 }, command: ['sleep', '60'], ...input });
}

/** Kills processes whose argv contains `needle`, for after-test cleanup only. */
export function killMatching(needle: string): void {
  for (const pid of pidsMatching(needle)) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
}
