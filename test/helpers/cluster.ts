import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { generateKeyPair, privateKeyToProtobuf } from '@libp2p/crypto/keys';
import type { Ed25519PrivateKey } from '@libp2p/interface';
import { peerIdFromPrivateKey } from '@libp2p/peer-id';
import { hashPrefix } from '../../src/core/hash.ts';
import { IDENTITY_FILE_NAME } from '../../src/net/identity.ts';
import { generateSwarmKey } from '../../src/net/swarm-key.ts';
import { curl, startAgent, tempDir, type AgentProcess } from './agent-process.ts';

/** A cluster of real agent processes on loopback, sharing one private-network key. */

export interface ClusterOptions {
  size: number;
  /** Fixed cell layout (2^bits cells), so a dozen agents spread over several cells. */
  cellBits?: number;
  /** Extra TOML per agent (after the common part), e.g. a zone. */
  extraToml?: (index: number) => string;
  /** Per-host capacity, fixed so placement is exact on any machine. */
  capacity?: { vcpus: number; memoryMiB: number; diskGiB: number };
  keyFile?: string;
  clusterName?: string;
  /** Place agent i in cell `cellOf(i)` (needs cellBits) by choosing its identity. */
  cellOf?: (index: number) => number;
}

export interface TestCluster {
  agents: AgentProcess[];
  keyFile: string;
  /** The first agent's dialable multiaddr (with /p2p/<id>). */
  seedAddr: string;
  ids: string[];
}

export function writeNetworkKey(dir = tempDir()): string {
  const file = join(dir, 'swarm.key');
  writeFileSync(file, generateSwarmKey(), { mode: 0o600 });
  return file;
}

export function agentToml(opts: ClusterOptions, keyFile: string, index: number): string {
  const cap = opts.capacity ?? { vcpus: 16, memoryMiB: 65536, diskGiB: 500 };
  return [
    `cluster = "${opts.clusterName ?? 'test'}"`,
    '[host]',
    'drivers = ["fake"]',
    `capacity = { vcpus = ${cap.vcpus}, memory_mib = ${cap.memoryMiB}, disk_gib = ${cap.diskGiB} }`,
    'overcommit = { cpu = 1.0, memory = 1.0, disk = 1.0 }',
    'reserved = { vcpus = 0, memory_mib = 0, disk_gib = 0 }',
    '[net]',
    `network_key = "${keyFile}"`,
    '[gossip]',
    opts.cellBits !== undefined ? `cell_bits = ${opts.cellBits}` : '',
    opts.extraToml?.(index) ?? '',
  ].join('\n');
}

/** The loopback multiaddr peers dial this agent on. */
export function dialAddr(agent: AgentProcess): string {
  const self = curl(agent.socket, 'GET', '/v1/agent/self').body as { id: string; addrs: string[] };
  const addr = self.addrs.find((a) => a.startsWith('/ip4/127.0.0.1/tcp/'));
  if (!addr) throw new Error(`agent ${self.id} has no loopback address: ${self.addrs.join(', ')}`);
  return addr.includes('/p2p/') ? addr : `${addr}/p2p/${self.id}`;
}

export async function startCluster(opts: ClusterOptions): Promise<TestCluster> {
  const keyFile = opts.keyFile ?? writeNetworkKey();
  const dirs = await Promise.all(
    Array.from({ length: opts.size }, async (_, i) => {
      const dir = tempDir();
      if (opts.cellOf && opts.cellBits !== undefined) await identityInCell(join(dir, 'data'), opts.cellOf(i), opts.cellBits);
      return dir;
    }),
  );
  const first = await startAgent({ dir: dirs[0], configToml: agentToml(opts, keyFile, 0) });
  const seedAddr = dialAddr(first);
  // The rest start together: each joins through the first agent.
  const rest = await Promise.all(
    Array.from({ length: opts.size - 1 }, (_, i) => startAgent({ dir: dirs[i + 1], configToml: agentToml(opts, keyFile, i + 1), args: ['--join', seedAddr] })),
  );
  const agents = [first, ...rest];
  const ids = agents.map((a) => (curl(a.socket, 'GET', '/v1/agent/self').body as { id: string }).id);
  return { agents, keyFile, seedAddr, ids };
}

export interface MemberRow {
  id: string;
  status: string;
  cell: number;
  incarnation: number;
  free: { vcpus: number; memoryMiB: number; diskGiB: number };
  ageMs: number;
}

export function members(agent: AgentProcess): MemberRow[] {
  const r = curl(agent.socket, 'GET', '/v1/agent/members');
  return r.status === 200 ? (r.body as MemberRow[]) : [];
}

export function selfOf(agent: AgentProcess): { id: string; cell: number; cellBits: number; incarnation: number } {
  return curl(agent.socket, 'GET', '/v1/agent/self').body;
}

/** An Ed25519 key whose peer id falls in `cell` of a `bits`-bit layout, so tests control cell membership. */
export async function keyInCell(cell: number, bits: number): Promise<Ed25519PrivateKey> {
  for (let i = 0; i < 10_000; i++) {
    const key = await generateKeyPair('Ed25519');
    if (hashPrefix(peerIdFromPrivateKey(key).toString(), bits) === cell) return key;
  }
  throw new Error(`no identity found in cell ${cell}/${bits} after 10000 keys`);
}

/** Writes such an identity into `dataDir`, where the agent will load it. */
export async function identityInCell(dataDir: string, cell: number, bits: number): Promise<string> {
  const key = await keyInCell(cell, bits);
  mkdirSync(dataDir, { recursive: true, mode: 0o750 });
  writeFileSync(join(dataDir, IDENTITY_FILE_NAME), privateKeyToProtobuf(key), { mode: 0o600 });
  return peerIdFromPrivateKey(key).toString();
}
