import { rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { curl, startAgent, tempDir, type AgentProcess } from '../../helpers/agent-process.ts';
import { agentToml, identityInCell, writeNetworkKey } from '../../helpers/cluster.ts';

/**
 * Federated clusters of real agent processes on loopback. Each cluster has its own network
 * key and its first `gateways` agents run gateways. Gateway identities and ports are chosen
 * before anything starts, so every config (allowlists, peers, the cluster's gateway list)
 * is complete from the first start, as an operator would write it.
 */

export interface FederatedClusterSpec {
  name: string;
  size: number;
  gateways: number;
  capacity: { vcpus: number; memoryMiB: number; diskGiB: number };
  region?: string;
  /** TOML lines inside `[federation.policy]` and its sub-tables (written after the allowlist). */
  policyToml?: string;
}

export interface FederatedCluster {
  spec: FederatedClusterSpec;
  agents: AgentProcess[];
  ids: string[];
  keyFile: string;
  gatewayIds: string[];
  /** Each gateway's federation multiaddr (with /p2p/). */
  federationAddrs: string[];
  /** Each gateway's pinned mesh multiaddr (with /p2p/). */
  meshAddrs: string[];
}

/** Ports already handed out in this process: the kernel may offer a just-closed port again. */
const handedOut = new Set<number>();

/** A free loopback TCP port (closed again; the agent binds it right after), never one handed out before. */
export async function freePort(): Promise<number> {
  for (;;) {
    const port = await new Promise<number>((resolve, reject) => {
      const srv = createServer();
      srv.once('error', reject);
      srv.listen(0, '127.0.0.1', () => {
        const p = (srv.address() as { port: number }).port;
        srv.close(() => resolve(p));
      });
    });
    if (!handedOut.has(port)) {
      handedOut.add(port);
      return port;
    }
  }
}

interface Plan {
  spec: FederatedClusterSpec;
  keyFile: string;
  dirs: string[];
  gatewayIds: string[];
  meshPorts: number[];
  fedPorts: number[];
}

/** Key directories made by `startFederation` (agent dirs are removed by `stopAllAgents`). */
const keyDirs: string[] = [];

export function removeFederationKeys(): void {
  for (const d of keyDirs.splice(0)) rmSync(d, { recursive: true, force: true });
}

function tomlList(items: readonly string[]): string {
  return `[${items.map((s) => JSON.stringify(s)).join(', ')}]`;
}

function federationToml(plan: Plan, all: Plan[], index: number): string {
  const meshAddrs = plan.gatewayIds.map((id, g) => `/ip4/127.0.0.1/tcp/${plan.meshPorts[g]}/p2p/${id}`);
  const lines = ['[federation]', `gateways = ${tomlList(meshAddrs)}`];
  if (plan.spec.region) lines.push(`region = "${plan.spec.region}"`);
  if (index < plan.spec.gateways) {
    const others = all.filter((p) => p !== plan);
    const peers = others.flatMap((p) => p.gatewayIds.map((id, g) => `/ip4/127.0.0.1/tcp/${p.fedPorts[g]}/p2p/${id}`));
    lines.push('gateway = true', `listen = ["/ip4/127.0.0.1/tcp/${plan.fedPorts[index]}"]`, `peers = ${tomlList(peers)}`);
    for (const p of others) lines.push(`[federation.clusters.${p.spec.name}]`, `gateways = ${tomlList(p.gatewayIds)}`);
    lines.push('[federation.policy]', plan.spec.policyToml ?? '');
  }
  return lines.join('\n');
}

/** Starts every cluster (one after the other: CPU is scarce), each fully joined through its first gateway. */
export async function startFederation(specs: FederatedClusterSpec[]): Promise<FederatedCluster[]> {
  const plans: Plan[] = [];
  for (const spec of specs) {
    const dirs = Array.from({ length: spec.size }, () => tempDir(`shoal-fed-${spec.name}-`));
    const gatewayIds: string[] = [];
    const meshPorts: number[] = [];
    const fedPorts: number[] = [];
    for (let g = 0; g < spec.gateways; g++) {
      gatewayIds.push(await identityInCell(join(dirs[g]!, 'data'), 0, 0));
      meshPorts.push(await freePort());
      fedPorts.push(await freePort());
    }
    const keyDir = tempDir('shoal-fed-key-');
    keyDirs.push(keyDir);
    plans.push({ spec, keyFile: writeNetworkKey(keyDir), dirs, gatewayIds, meshPorts, fedPorts });
  }
  const clusters: FederatedCluster[] = [];
  for (const plan of plans) {
    const { spec } = plan;
    const toml = (i: number): string =>
      agentToml({ size: spec.size, clusterName: spec.name, capacity: spec.capacity, keyFile: plan.keyFile, extraToml: (j) => federationToml(plan, plans, j) }, plan.keyFile, i);
    const meshArgs = (i: number): string[] => (i < spec.gateways ? ['--listen', `/ip4/127.0.0.1/tcp/${plan.meshPorts[i]}`] : []);
    const first = await startAgent({ dir: plan.dirs[0], configToml: toml(0), args: meshArgs(0) });
    const seed = `/ip4/127.0.0.1/tcp/${plan.meshPorts[0]}/p2p/${plan.gatewayIds[0]}`;
    const rest = await Promise.all(
      Array.from({ length: spec.size - 1 }, (_, k) => startAgent({ dir: plan.dirs[k + 1], configToml: toml(k + 1), args: [...meshArgs(k + 1), '--join', seed] })),
    );
    const agents = [first, ...rest];
    clusters.push({
      spec,
      agents,
      ids: agents.map((a) => (curl(a.socket, 'GET', '/v1/agent/self').body as { id: string }).id),
      keyFile: plan.keyFile,
      gatewayIds: plan.gatewayIds,
      federationAddrs: plan.gatewayIds.map((id, g) => `/ip4/127.0.0.1/tcp/${plan.fedPorts[g]}/p2p/${id}`),
      meshAddrs: plan.gatewayIds.map((id, g) => `/ip4/127.0.0.1/tcp/${plan.meshPorts[g]}/p2p/${id}`),
    });
  }
  return clusters;
}

export interface RemoteView {
  cluster: string;
  region: string;
  acceptsUs: boolean;
  ageMs: number;
  hosts: number;
  buckets: { zone: string; hosts: number; maxFree: { vcpus: number } }[];
}

export interface FederationStatsView {
  entry: { gateways: string[]; activeGateway: string | null; backingOff: number } | null;
  gateway: {
    remotes: RemoteView[];
    summary?: { hosts: number };
    connectedGateways: string[];
    /** Burst bindings held (own and copies from sibling gateways). */
    bindings: number;
    remoteActive: Record<string, string | null>;
    stats: { refusedPeers: number; burstsPlaced: number; remotePlaced: number; remoteRefused: number; summariesReceived: number };
  } | null;
}

export function federationStats(agent: AgentProcess): FederationStatsView | undefined {
  const r = curl(agent.socket, 'GET', '/v1/agent/stats');
  return r.status === 200 ? (r.body as { federation: FederationStatsView }).federation : undefined;
}
