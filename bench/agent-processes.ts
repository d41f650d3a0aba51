import { openSync, closeSync } from 'node:fs';
import type { ChildProcess } from 'node:child_process';
import { ShoalError } from '../src/core/index.ts';
import type { Testbed } from './netns.ts';

/**
 * The agent processes of one cluster: one slot per agent, each process started inside its
 * namespace with stdout and stderr appended to a log file (kept for post-mortems). Only
 * processes started here are ever signalled, by their own pid.
 */
export class AgentProcesses {
  readonly testbed: Testbed;
  #children: (ChildProcess | null)[];
  #exited: (Promise<void> | null)[];

  constructor(modules: { testbed: Testbed }) {
    this.testbed = modules.testbed;
    this.#children = Array.from({ length: modules.testbed.agents }, () => null);
    this.#exited = Array.from({ length: modules.testbed.agents }, () => null);
  }

  spawn(index: number, argv: string[], logFile: string, env?: NodeJS.ProcessEnv): ChildProcess {
    if (this.isRunning(index)) throw new ShoalError('BENCH_AGENT_RUNNING', `agent ${index} is already running (pid ${this.pid(index)})`);
    const fd = openSync(logFile, 'a');
    try {
      const child = this.testbed.spawnIn(index, argv, { stdio: ['ignore', fd, fd], env: env ?? process.env });
      this.#children[index] = child;
      this.#exited[index] = new Promise<void>((resolve) => {
        if (child.exitCode !== null || child.signalCode !== null) resolve();
        else child.once('exit', () => resolve());
      });
      child.once('error', () => undefined); // spawn failures show up as an exit; the caller's readiness wait reports them
      return child;
    } finally {
      closeSync(fd);
    }
  }

  pid(index: number): number | null {
    const c = this.#children[index];
    return c && c.exitCode === null && c.signalCode === null && c.pid !== undefined ? c.pid : null;
  }

  isRunning(index: number): boolean {
    return this.pid(index) !== null;
  }

  /** Exit code or signal of the last process in the slot, for error messages. */
  exitStatus(index: number): string | null {
    const c = this.#children[index];
    if (!c) return null;
    if (c.signalCode !== null) return `signal ${c.signalCode}`;
    if (c.exitCode !== null) return `exit ${c.exitCode}`;
    return null;
  }

  kill(index: number): void {
    const pid = this.pid(index);
    if (pid !== null) process.kill(pid, 'SIGKILL');
  }

  /** SIGTERM, then SIGKILL after `timeoutMs`; resolves once the process is gone. */
  async stop(index: number, timeoutMs: number): Promise<void> {
    const pid = this.pid(index);
    const exited = this.#exited[index];
    if (pid === null || exited === null) return;
    process.kill(pid, 'SIGTERM');
    const t = setTimeout(() => this.kill(index), timeoutMs);
    try {
      await exited;
    } finally {
      clearTimeout(t);
    }
  }

  async stopAll(graceMs: number): Promise<void> {
    await Promise.all(this.#children.map((_, i) => this.stop(i, graceMs)));
  }

  /** Resolves when the process in the slot exits (immediately if none). */
  async waitExit(index: number): Promise<void> {
    await (this.#exited[index] ?? Promise.resolve());
  }
}
