import { spawn, spawnSync, type ChildProcess, type SpawnOptions } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { ShoalError } from '../src/core/index.ts';

/**
 * A private testbed of network namespaces, one per agent, so every agent's traffic can be
 * counted on its own veth, the same way for Shoal and Serf:
 *
 *   root ns:  bridge shbbr0 (data, no address)   bridge shbbr1 (management, 10.78.255.254/16)
 *                 |  veth shbd<i>                      |  veth shbm<i>
 *   ns shb-<i>:   eth0 10.77.x.y (gossip)              mgmt0 10.78.x.y (Serf's RPC only)
 *
 * Only the data veth carries gossip, so its counters are the agent's network cost. The
 * management veth keeps the bench's own polling (Serf RPC is TCP) off those counters; Shoal's
 * API is a Unix socket and needs no network at all. Nothing here touches a real interface:
 * every name starts with `shb`, and addresses live only inside the namespaces we create.
 */

export const NETNS_PREFIX = 'shb-';
const DATA_BRIDGE = 'shbbr0';
const MGMT_BRIDGE = 'shbbr1';
const DATA_SUBNET = '10.77';
const MGMT_SUBNET = '10.78';
const MGMT_GATEWAY = `${MGMT_SUBNET}.255.254`;
/** One /16 per network: agent i gets host number i + 1, so at most 65,000 agents. */
const MAX_AGENTS = 65_000;

/** Counters of one agent's data veth, from the agent's point of view. */
export interface LinkCounters {
  rxBytes: number;
  txBytes: number;
  rxPackets: number;
  txPackets: number;
}

function hostAddress(subnet: string, index: number): string {
  const host = index + 1;
  return `${subnet}.${host >> 8}.${host & 255}`;
}

/** A fixed, locally administered MAC per agent, so neighbours and the bridge can be told in advance. */
function dataMac(index: number): string {
  const host = index + 1;
  const hex = (n: number): string => n.toString(16).padStart(2, '0');
  return `02:77:00:00:${hex(host >> 8)}:${hex(host & 255)}`;
}

function run(cmd: string, args: string[], input?: string): string {
  const r = spawnSync(cmd, args, { input, encoding: 'utf8', timeout: 30_000 });
  if (r.error) throw new ShoalError('BENCH_NETNS_FAILED', `${cmd} ${args.join(' ')}: ${r.error.message}`, { cmd, args }, { cause: r.error });
  if (r.status !== 0) {
    throw new ShoalError('BENCH_NETNS_FAILED', `${cmd} ${args.slice(0, 6).join(' ')} exited ${r.status}: ${r.stderr.trim().split('\n').slice(0, 3).join('; ')}`, { cmd, args, status: r.status });
  }
  return r.stdout;
}

function tryRun(cmd: string, args: string[]): boolean {
  return spawnSync(cmd, args, { stdio: 'ignore', timeout: 30_000 }).status === 0;
}

function readCounter(link: string, name: string): number {
  return Number(readFileSync(`/sys/class/net/${link}/statistics/${name}`, 'utf8'));
}

function sleepSync(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

/** Namespaces left by this bench (a crashed earlier run included). */
export function listBenchNamespaces(): string[] {
  const out = spawnSync('ip', ['netns', 'list'], { encoding: 'utf8' }).stdout ?? '';
  return out
    .split('\n')
    .map((l) => l.split(' ')[0]!.trim())
    .filter((n) => n.startsWith(NETNS_PREFIX));
}

function listBenchLinks(): string[] {
  const out = spawnSync('ip', ['-o', 'link', 'show'], { encoding: 'utf8' }).stdout ?? '';
  const names: string[] = [];
  for (const line of out.split('\n')) {
    const m = /^\d+:\s+([^:@\s]+)/.exec(line);
    if (m && m[1]!.startsWith('shb')) names.push(m[1]!);
  }
  return names;
}

/**
 * Removes every namespace and link of this bench, first killing the processes still inside
 * our namespaces (they can only be agents this bench started). Safe to call any time.
 */
export function cleanupTestbed(): { namespaces: number; killed: number } {
  const namespaces = listBenchNamespaces();
  let killed = 0;
  for (const ns of namespaces) {
    const pids = (spawnSync('ip', ['netns', 'pids', ns], { encoding: 'utf8' }).stdout ?? '').split('\n').filter((p) => /^\d+$/.test(p.trim()));
    for (const pid of pids) {
      try {
        process.kill(Number(pid), 'SIGKILL');
        killed++;
      } catch {
        // already gone
      }
    }
  }
  for (const ns of namespaces) tryRun('ip', ['netns', 'del', ns]);
  for (const link of listBenchLinks()) tryRun('ip', ['link', 'del', link]);
  // Namespace teardown is asynchronous: wait (bounded) until the veths are really gone, so
  // the next setup can reuse their names.
  const deadline = Date.now() + 10_000;
  while (listBenchLinks().length > 0 && Date.now() < deadline) sleepSync(100);
  return { namespaces: namespaces.length, killed };
}

export class Testbed {
  readonly agents: number;
  #up = false;

  constructor(opts: { agents: number }) {
    if (!Number.isInteger(opts.agents) || opts.agents < 1 || opts.agents > MAX_AGENTS) {
      throw new ShoalError('BENCH_BAD_OPTIONS', `agents must be an integer in [1, ${MAX_AGENTS}], got ${opts.agents}`, { agents: opts.agents });
    }
    this.agents = opts.agents;
  }

  static namespace(index: number): string {
    return `${NETNS_PREFIX}${index}`;
  }

  static dataLink(index: number): string {
    return `shbd${index}`;
  }

  /** The agent's gossip address, inside its namespace. */
  static dataAddress(index: number): string {
    return hostAddress(DATA_SUBNET, index);
  }

  /** The agent's management address: reachable from the root namespace through shbbr1. */
  static mgmtAddress(index: number): string {
    return hostAddress(MGMT_SUBNET, index);
  }

  /** Creates bridges, namespaces and veths; removes leftovers first. Throws BENCH_NETNS_FAILED. */
  setUp(): void {
    if (process.getuid?.() !== 0) throw new ShoalError('BENCH_NETNS_FAILED', 'network namespaces need root (ip netns add)');
    cleanupTestbed();
    this.#up = true;
    const root: string[] = [
      `link add ${DATA_BRIDGE} type bridge`,
      `link add ${MGMT_BRIDGE} type bridge`,
    ];
    for (let i = 0; i < this.agents; i++) {
      const ns = Testbed.namespace(i);
      root.push(`netns add ${ns}`);
      root.push(`link add ${Testbed.dataLink(i)} type veth peer name eth0 netns ${ns}`);
      root.push(`link add shbm${i} type veth peer name mgmt0 netns ${ns}`);
    }
    run('ip', ['-batch', '-'], root.join('\n') + '\n');
    // No IPv6 on our links: router solicitations and MLD reports would land in the counters.
    for (const link of [DATA_BRIDGE, MGMT_BRIDGE, ...Array.from({ length: this.agents }, (_, i) => [Testbed.dataLink(i), `shbm${i}`]).flat()]) {
      disableIpv6(`/proc/sys/net/ipv6/conf/${link}/disable_ipv6`);
    }
    const up: string[] = [`link set ${DATA_BRIDGE} up`, `link set ${MGMT_BRIDGE} up`, `addr add ${MGMT_GATEWAY}/16 dev ${MGMT_BRIDGE}`];
    for (let i = 0; i < this.agents; i++) {
      up.push(`link set ${Testbed.dataLink(i)} master ${DATA_BRIDGE} up`);
      up.push(`link set shbm${i} master ${MGMT_BRIDGE} up`);
    }
    run('ip', ['-batch', '-'], up.join('\n') + '\n');
    // Static bridge entries: the bridge never floods a frame to every port for want of a learnt address.
    run('bridge', ['-batch', '-'], Array.from({ length: this.agents }, (_, i) => `fdb add ${dataMac(i)} dev ${Testbed.dataLink(i)} master static`).join('\n') + '\n');
    for (let i = 0; i < this.agents; i++) {
      const ns = Testbed.namespace(i);
      run('ip', ['netns', 'exec', ns, 'sh', '-c', 'for f in /proc/sys/net/ipv6/conf/*/disable_ipv6; do echo 1 > "$f"; done']);
      const cmds = [
        'link set lo up',
        `link set eth0 address ${dataMac(i)}`,
        `addr add ${Testbed.dataAddress(i)}/16 dev eth0`,
        'link set eth0 up',
        `addr add ${Testbed.mgmtAddress(i)}/16 dev mgmt0`,
        'link set mgmt0 up',
      ];
      // Permanent neighbours: without them every agent broadcasts ARP requests that all the
      // others receive, a cost of the testbed (O(N²) on one bridge) that neither agent has on a routed network.
      for (let j = 0; j < this.agents; j++) if (j !== i) cmds.push(`neigh add ${Testbed.dataAddress(j)} lladdr ${dataMac(j)} dev eth0 nud permanent`);
      run('ip', ['-n', ns, '-batch', '-'], cmds.join('\n') + '\n');
    }
  }

  /** Starts `argv` inside agent `index`'s namespace. `ip netns exec` execs, so the child's pid is the agent's. */
  spawnIn(index: number, argv: string[], opts: SpawnOptions = {}): ChildProcess {
    if (!this.#up) throw new ShoalError('BENCH_NETNS_FAILED', 'testbed is not set up');
    return spawn('ip', ['netns', 'exec', Testbed.namespace(index), ...argv], opts);
  }

  counters(index: number): LinkCounters {
    const link = Testbed.dataLink(index);
    // The root-side end of the pair: what it receives, the agent sent.
    return {
      rxBytes: readCounter(link, 'tx_bytes'),
      txBytes: readCounter(link, 'rx_bytes'),
      rxPackets: readCounter(link, 'tx_packets'),
      txPackets: readCounter(link, 'rx_packets'),
    };
  }

  allCounters(): LinkCounters[] {
    return Array.from({ length: this.agents }, (_, i) => this.counters(i));
  }

  tearDown(): void {
    if (!this.#up) return;
    cleanupTestbed();
    this.#up = false;
  }
}

function disableIpv6(path: string): void {
  try {
    writeFileSync(path, '1');
  } catch {
    // IPv6 may be off altogether on this kernel: nothing to silence then.
  }
}
