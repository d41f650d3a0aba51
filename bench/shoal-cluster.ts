import { mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { stringify as toToml } from 'smol-toml';
import { ShoalError } from '../src/core/index.ts';
import { loadOrCreateIdentity } from '../src/net/identity.ts';
import { generateSwarmKey } from '../src/net/swarm-key.ts';
import { AgentProcesses } from './agent-processes.ts';
import type { AgentCluster, MemberView, ProtocolCounters } from './cluster.ts';
import { Testbed } from './netns.ts';
import { parsePromText, sumSamples } from './prom-text.ts';
import { ShoalApi } from './shoal-api.ts';
import { pollUntil } from './wait.ts';

export interface ShoalClusterOptions {
  /** The `shoal` command, run as an executable exactly as an operator runs it. */
  shoalBin: string;
  /** libp2p TCP port inside each namespace. */
  listenPort: number;
  /** Gossip profile every agent runs (and the simulator is told to run). */
  gossipProfile: 'lan' | 'wan' | 'large';
  /** Fixed host capacity, so placement does not depend on this machine's facts. */
  capacity: { vcpus: number; memoryMiB: number; diskGiB: number };
  /** Drivers the agents advertise: the fake driver makes placement cost what Shoal costs, not what QEMU costs. */
  drivers: string[];
  logLevel: 'fatal' | 'error' | 'warn' | 'info' | 'debug';
  /** How long an agent may take from spawn until its socket answers. */
  startTimeoutMs: number;
  /** Per-request timeout on the socket. */
  apiTimeoutMs: number;
}

export const defaultShoalClusterOptions: ShoalClusterOptions = {
  shoalBin: resolve(import.meta.dirname, '../bin/shoal.js'),
  // 7946: the agent's default port, free inside every namespace.
  listenPort: 7946,
  // lan: the agent's default, and the profile comparable to Serf's LAN profile.
  gossipProfile: 'lan',
  // 64 vCPUs / 256 GiB / 2 TiB: a common hypervisor host; 20 of them hold every bench job many times over.
  capacity: { vcpus: 64, memoryMiB: 262_144, diskGiB: 2048 },
  // fake: no hypervisor work, so the figures are the agent's own cost.
  drivers: ['fake'],
  // warn: an info log line per event would cost CPU the figures should not include.
  logLevel: 'warn',
  // 180 s: a Node agent needs seconds of CPU to start, and on 2 cores it shares them with the 31 already running.
  startTimeoutMs: 180_000,
  // 10 s: a members call answers in milliseconds; a placement in well under a second.
  apiTimeoutMs: 10_000,
};

interface SelfInfo {
  id: string;
  name: string;
}

/** Real `shoal agent` processes, one per namespace, each with its own data dir, socket and config. */
export class ShoalCluster implements AgentCluster {
  readonly kind = 'shoal';
  readonly failedStatus = 'failed';
  readonly size: number;
  readonly opts: ShoalClusterOptions;
  readonly workDir: string;
  readonly #procs: AgentProcesses;
  readonly #keyFile: string;
  #apis: (ShoalApi | null)[];
  #peerIds: (string | null)[];
  /** Peer id → `a<i>`: other agents list a host by its peer id. */
  readonly #nameOfId = new Map<string, string>();

  constructor(opts: ShoalClusterOptions, modules: { testbed: Testbed; workDir: string }) {
    this.opts = opts;
    this.size = modules.testbed.agents;
    this.workDir = join(modules.workDir, 'shoal');
    mkdirSync(this.workDir, { recursive: true });
    this.#procs = new AgentProcesses({ testbed: modules.testbed });
    this.#keyFile = join(this.workDir, 'swarm.key');
    writeFileSync(this.#keyFile, generateSwarmKey(), { mode: 0o600 });
    this.#apis = Array.from({ length: this.size }, () => null);
    this.#peerIds = Array.from({ length: this.size }, () => null);
  }

  agentName(index: number): string {
    return `a${index}`;
  }

  agentDir(index: number): string {
    return join(this.workDir, this.agentName(index));
  }

  socketPath(index: number): string {
    return join(this.agentDir(index), 'shoal.sock');
  }

  /** The multiaddr others join agent `index` at (known once it has started). */
  multiaddr(index: number): string {
    const id = this.#peerIds[index];
    if (!id) throw new ShoalError('BENCH_AGENT_DOWN', `shoal agent ${index} has not started yet (no peer id)`);
    return `/ip4/${Testbed.dataAddress(index)}/tcp/${this.opts.listenPort}/p2p/${id}`;
  }

  #writeConfig(index: number): string {
    const dir = this.agentDir(index);
    mkdirSync(join(dir, 'data'), { recursive: true });
    const config = {
      cluster: 'bench',
      agent: { node_name: this.agentName(index) },
      log: { level: this.opts.logLevel },
      host: {
        drivers: this.opts.drivers,
        capacity: { vcpus: this.opts.capacity.vcpus, memory_mib: this.opts.capacity.memoryMiB, disk_gib: this.opts.capacity.diskGiB },
        overcommit: { cpu: 1, memory: 1, disk: 1 },
        reserved: { vcpus: 0, memory_mib: 0, disk_gib: 0 },
      },
      // Listening on the data address only: a wildcard would also announce the management address, whose traffic the counters do not see.
      net: { listen: [`/ip4/${Testbed.dataAddress(index)}/tcp/${this.opts.listenPort}`], network_key: this.#keyFile },
      gossip: { profile: this.opts.gossipProfile },
    };
    const file = join(dir, 'shoal.toml');
    writeFileSync(file, toToml(config));
    return file;
  }

  /** Creates the agent's identity before its first start, so its peer id is known before anyone can list it. */
  async #ensureIdentity(index: number): Promise<void> {
    if (this.#peerIds[index] !== null) return;
    const id = await loadOrCreateIdentity(join(this.agentDir(index), 'data'));
    this.#setPeerId(index, id.peerId);
  }

  #setPeerId(index: number, id: string): void {
    this.#peerIds[index] = id;
    this.#nameOfId.set(id, this.agentName(index));
  }

  async start(index: number, opts: { joinSeed: boolean; signal?: AbortSignal }): Promise<void> {
    await this.#apis[index]?.close();
    this.#apis[index] = null;
    const dir = this.agentDir(index);
    const config = this.#writeConfig(index);
    await this.#ensureIdentity(index);
    // The command users run: bin/shoal.js picks the pinned Node and its flags for agents, then execs it (same pid).
    const argv = [this.opts.shoalBin, 'agent', '--config', config, '--data-dir', join(dir, 'data'), '--socket', this.socketPath(index)];
    if (opts.joinSeed && index !== 0) argv.push('--join', this.multiaddr(0));
    this.#procs.spawn(index, argv, join(dir, 'agent.log'));
    const api = new ShoalApi({ socketPath: this.socketPath(index), timeoutMs: this.opts.apiTimeoutMs });
    try {
      const self = await pollUntil(
        `shoal agent ${index} socket`,
        async () => {
          if (!this.#procs.isRunning(index)) {
            throw new ShoalError('BENCH_AGENT_EXITED', `shoal agent ${index} exited (${this.#procs.exitStatus(index)}); see ${join(dir, 'agent.log')}`);
          }
          return api.json<SelfInfo>('GET', '/v1/agent/self');
        },
        { timeoutMs: this.opts.startTimeoutMs, intervalMs: 100, signal: opts.signal },
      );
      if (self.id !== this.#peerIds[index]) this.#setPeerId(index, self.id);
    } catch (err) {
      await api.close();
      throw err;
    }
    this.#apis[index] = api;
  }

  api(index: number): ShoalApi {
    const a = this.#apis[index];
    if (!a) throw new ShoalError('BENCH_AGENT_DOWN', `shoal agent ${index} is not running`);
    return a;
  }

  async join(index: number, seed: number): Promise<void> {
    await this.api(index).json('POST', '/v1/agent/join', { addrs: [this.multiaddr(seed)] });
  }

  async members(index: number): Promise<MemberView[]> {
    const body = await this.api(index).json<unknown>('GET', '/v1/agent/members');
    const list = Array.isArray(body) ? body : ((body as { members?: unknown[] }).members ?? []);
    return (list as { id?: unknown; status?: unknown }[]).map((m) => {
      const id = String(m.id);
      return { name: this.#nameOfId.get(id) ?? id, status: String(m.status) };
    });
  }

  /** Protocol counters from the agent's Prometheus metrics (`shoalProtocolCounters`). */
  async protocolCounters(index: number): Promise<ProtocolCounters | null> {
    const r = await this.api(index).call('GET', '/v1/metrics');
    return r.status === 200 ? shoalProtocolCounters(r.text) : null;
  }

  pid(index: number): number | null {
    return this.#procs.pid(index);
  }

  isRunning(index: number): boolean {
    return this.#procs.isRunning(index);
  }

  kill(index: number): void {
    this.#procs.kill(index);
    const api = this.#apis[index];
    this.#apis[index] = null;
    void api?.close();
  }

  async stop(index: number, timeoutMs: number): Promise<void> {
    await this.#procs.stop(index, timeoutMs);
    const api = this.#apis[index];
    this.#apis[index] = null;
    await api?.close();
  }

  async shutdown(): Promise<void> {
    await this.#procs.stopAll(5000);
    await Promise.all(this.#apis.map((a) => a?.close()));
    this.#apis.fill(null);
  }
}

/**
 * What an agent received and sent, from its Prometheus text: gossip first copies (as the
 * adapter counts them), plus every request and one-way message served, plus the answers to
 * its own requests. A one-way message it sent (a ping, an ack) is counted out, never in.
 */
export function shoalProtocolCounters(text: string): ProtocolCounters {
  const s = parsePromText(text);
  const served = sumSamples(s, 'shoal_net_requests_served_total');
  const answersReceived = sumSamples(s, 'shoal_net_requests_sent_total', { exchange: 'request', outcome: 'ok' });
  const answersSent = sumSamples(s, 'shoal_net_requests_served_total', { exchange: 'request' });
  return {
    messagesIn: sumSamples(s, 'shoal_net_messages_in_total') + served + answersReceived,
    messagesOut: sumSamples(s, 'shoal_net_messages_out_total') + sumSamples(s, 'shoal_net_requests_sent_total') + answersSent,
    payloadBytesIn: sumSamples(s, 'shoal_net_message_in_bytes_total') + sumSamples(s, 'shoal_net_request_bytes_total', { direction: 'in' }),
    payloadBytesOut: sumSamples(s, 'shoal_net_message_out_bytes_total') + sumSamples(s, 'shoal_net_request_bytes_total', { direction: 'out' }),
  };
}
