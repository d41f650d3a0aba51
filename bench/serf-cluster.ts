import { randomBytes } from 'node:crypto';
import { spawnSync } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { ShoalError } from '../src/core/index.ts';
import { AgentProcesses } from './agent-processes.ts';
import type { AgentCluster, MemberView, ProtocolCounters } from './cluster.ts';
import { Testbed } from './netns.ts';
import { SerfRpcClient } from './serf-rpc.ts';
import { pollUntil } from './wait.ts';

export interface SerfClusterOptions {
  /** The serf binary. */
  serfBin: string;
  /** Gossip port inside each namespace. */
  bindPort: number;
  rpcPort: number;
  /** Timing profile: `lan` is Serf's default (gossip 200 ms, probe 1 s). */
  profile: 'lan' | 'wan' | 'local';
  /** Encrypt gossip (AES-GCM) with a per-run key, as Shoal's traffic is (pnet + noise). */
  encrypt: boolean;
  /** How long an agent may take to answer RPC after its start. */
  startTimeoutMs: number;
  /** Per-RPC timeout. */
  rpcTimeoutMs: number;
}

export const defaultSerfClusterOptions: SerfClusterOptions = {
  // Debian's package (serf 0.8.2 here).
  serfBin: '/usr/bin/serf',
  // 7946: Serf's default, free inside every namespace.
  bindPort: 7946,
  // 7373: Serf's default RPC port, bound to the management address only.
  rpcPort: 7373,
  // lan: Serf's default profile, what the comparison is about.
  profile: 'lan',
  // true: both sides then pay for authenticated encryption on the wire.
  encrypt: true,
  // 10 s: a Go binary is up in ~50 ms; slack for a loaded 2-core machine.
  startTimeoutMs: 10_000,
  // 5 s: a members call answers in ~1 ms.
  rpcTimeoutMs: 5_000,
};

/** The version line of the serf binary (`serf version`), or null when it does not run. */
export function serfVersion(serfBin: string): string | null {
  const r = spawnSync(serfBin, ['version'], { encoding: 'utf8', timeout: 5000 });
  if (r.status !== 0) return null;
  return (r.stdout.split('\n')[0] ?? '').replace(/^Serf\s+/i, '').trim() || null;
}

export class SerfCluster implements AgentCluster {
  readonly kind = 'serf';
  readonly failedStatus = 'failed';
  readonly size: number;
  readonly opts: SerfClusterOptions;
  readonly #procs: AgentProcesses;
  readonly #logDir: string;
  readonly #encryptKey: string;
  #clients: (SerfRpcClient | null)[];

  constructor(opts: SerfClusterOptions, modules: { testbed: Testbed; workDir: string }) {
    this.opts = opts;
    this.size = modules.testbed.agents;
    this.#procs = new AgentProcesses({ testbed: modules.testbed });
    this.#logDir = join(modules.workDir, 'serf-logs');
    mkdirSync(this.#logDir, { recursive: true });
    this.#encryptKey = randomBytes(32).toString('base64');
    this.#clients = Array.from({ length: this.size }, () => null);
  }

  agentName(index: number): string {
    return `a${index}`;
  }

  #gossipAddr(index: number): string {
    return `${Testbed.dataAddress(index)}:${this.opts.bindPort}`;
  }

  async start(index: number, opts: { joinSeed: boolean; signal?: AbortSignal }): Promise<void> {
    this.#clients[index]?.close();
    this.#clients[index] = null;
    const argv = [
      this.opts.serfBin,
      'agent',
      `-node=${this.agentName(index)}`,
      `-bind=${this.#gossipAddr(index)}`,
      `-rpc-addr=${Testbed.mgmtAddress(index)}:${this.opts.rpcPort}`,
      `-profile=${this.opts.profile}`,
      '-log-level=warn',
    ];
    if (this.opts.encrypt) argv.push(`-encrypt=${this.#encryptKey}`);
    if (opts.joinSeed && index !== 0) argv.push(`-join=${this.#gossipAddr(0)}`);
    this.#procs.spawn(index, argv, join(this.#logDir, `${this.agentName(index)}.log`));
    const client = await pollUntil(
      `serf agent ${index} RPC`,
      async () => {
        if (!this.#procs.isRunning(index)) {
          throw new ShoalError('BENCH_AGENT_EXITED', `serf agent ${index} exited (${this.#procs.exitStatus(index)}); see ${this.#logDir}`);
        }
        const c = new SerfRpcClient({ host: Testbed.mgmtAddress(index), port: this.opts.rpcPort, timeoutMs: this.opts.rpcTimeoutMs });
        await c.open();
        return c;
      },
      { timeoutMs: this.opts.startTimeoutMs, intervalMs: 20, signal: opts.signal },
    );
    this.#clients[index] = client;
  }

  #client(index: number): SerfRpcClient {
    const c = this.#clients[index];
    if (!c) throw new ShoalError('BENCH_AGENT_DOWN', `serf agent ${index} is not running`);
    return c;
  }

  async join(index: number, seed: number): Promise<void> {
    const n = await this.#client(index).join([this.#gossipAddr(seed)]);
    if (n < 1) throw new ShoalError('BENCH_JOIN_FAILED', `serf agent ${index} joined no one at ${this.#gossipAddr(seed)}`);
  }

  async members(index: number): Promise<MemberView[]> {
    const ms = await this.#client(index).members();
    return ms.map((m) => ({ name: String(m.Name), status: String(m.Status) }));
  }

  async protocolCounters(): Promise<ProtocolCounters | null> {
    return null;
  }

  pid(index: number): number | null {
    return this.#procs.pid(index);
  }

  isRunning(index: number): boolean {
    return this.#procs.isRunning(index);
  }

  kill(index: number): void {
    this.#clients[index]?.close();
    this.#clients[index] = null;
    this.#procs.kill(index);
  }

  async stop(index: number, timeoutMs: number): Promise<void> {
    this.#clients[index]?.close();
    this.#clients[index] = null;
    await this.#procs.stop(index, timeoutMs);
  }

  async shutdown(): Promise<void> {
    for (const c of this.#clients) c?.close();
    this.#clients.fill(null);
    // Serf leaves gracefully only on SIGINT (SIGTERM just exits); at the end either will do.
    await this.#procs.stopAll(3000);
  }
}
