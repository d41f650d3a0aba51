import assert from 'node:assert/strict';
import { curl, type AgentProcess } from '../../helpers/agent-process.ts';
import { members, type TestCluster } from '../../helpers/cluster.ts';
import { waitFor } from '../../helpers/wait-for.ts';

/** Helpers for the recovery e2e tests: real agents, fake driver, everything read through the API. */

export interface JobView {
  id: string;
  host: string;
  state: string;
  desired: string;
  epoch: number;
  reason?: string;
  spec: { name: string; idempotencyKey: string; evacuate: boolean };
}

/** States in which a copy runs or is about to (the fake driver runs it as soon as the reconciler passes). */
export const LIVE = new Set(['placed', 'starting', 'running']);

/** TOML for agent `i`: a label naming it (jobs prefer a host by it) and recovery settings. */
export function recoveryToml(recovery: Record<string, number>): (i: number) => string {
  return (i) => [`[host.labels]`, `idx = "${i}"`, `[recovery]`, ...Object.entries(recovery).map(([k, v]) => `${k} = ${v}`)].join('\n');
}

export function isUp(a: AgentProcess): boolean {
  return a.proc.exitCode === null && a.proc.signalCode === null;
}

/** The records an agent holds for its own host. */
export function localJobs(a: AgentProcess): JobView[] {
  const r = curl(a.socket, 'GET', '/v1/jobs');
  if (r.status !== 200) return [];
  const self = (curl(a.socket, 'GET', '/v1/agent/self').body as { id: string }).id;
  return (r.body as JobView[]).filter((j) => j.host === self);
}

/** Live copies of each idempotency key across the given agents. */
export function liveCopies(agents: AgentProcess[]): Map<string, { agent: number; job: JobView }[]> {
  const byKey = new Map<string, { agent: number; job: JobView }[]>();
  agents.forEach((a, i) => {
    for (const job of localJobs(a)) {
      if (!LIVE.has(job.state) || job.desired !== 'running') continue;
      const list = byKey.get(job.spec.idempotencyKey) ?? [];
      list.push({ agent: i, job });
      byKey.set(job.spec.idempotencyKey, list);
    }
  });
  return byKey;
}

/**
 * Submits jobs that prefer the host labelled `idx = prefer` (weight 100 outranks any policy
 * score) until `n` of them landed on `target` (a busy host may time an admission out and the
 * job land elsewhere: such strays are stopped and submitted again under a new key). Returns the
 * `n` jobs on the target; with `target` null, the first `n` wherever they landed.
 */
export function submitJobs(via: AgentProcess, prefix: string, n: number, prefer: number, extra: Record<string, unknown> = {}, target: string | null = null): JobView[] {
  const out: JobView[] = [];
  for (let i = 0; out.length < n; i++) {
    assert.ok(i < 3 * n, `${prefix}: only ${out.length} of ${3 * n} jobs landed on the preferred host`);
    const r = curl(via.socket, 'POST', '/v1/jobs', {
      name: `${prefix}-${i}`,
      kind: 'vm',
      resources: { vcpus: 1, memoryMiB: 256 },
      idempotencyKey: `${prefix}-${i}`,
      preferences: [{ label: 'idx', value: String(prefer), weight: 100 }],
      ...extra,
    });
    assert.equal(r.status, 201, `submit ${prefix}-${i}: ${r.raw}`);
    const job = r.body as JobView;
    if (target === null || job.host === target) out.push(job);
    else assert.equal(curl(via.socket, 'DELETE', `/v1/jobs/${job.id}`).status, 200, `stop the stray ${job.id}`);
  }
  return out;
}

export async function converged(cluster: TestCluster, agents: AgentProcess[], size: number): Promise<void> {
  await waitFor(() => agents.every((a) => members(a).filter((m) => m.status === 'alive').length === size), {
    timeoutMs: 60_000,
    what: `${agents.length} agents to see ${size} alive members`,
  });
}

export async function waitRunning(agent: AgentProcess, n: number, what: string): Promise<void> {
  await waitFor(() => localJobs(agent).filter((j) => j.state === 'running').length >= n, { timeoutMs: 30_000, what });
}

/** Every replicated record of `owner` acknowledged by its holders (so a kill now loses nothing). */
export async function waitReplicated(agent: AgentProcess, what: string): Promise<void> {
  await waitFor(
    () => {
      const r = curl(agent.socket, 'GET', '/v1/agent/recovery').body as { replicas?: { holders: string[]; synced: string[]; pending: string[] } };
      return r.replicas !== undefined && r.replicas.holders.length > 0 && r.replicas.pending.length === 0 && r.replicas.synced.length === r.replicas.holders.length;
    },
    { timeoutMs: 15_000, what },
  );
}

export interface RecoveryView {
  evacuations: { owner: string; evacuating: boolean; replaced: number; done: boolean; last: { replaced: number; lost: number } | null }[];
  replicas: { held: number };
}

export function recoveryOf(a: AgentProcess): RecoveryView {
  return curl(a.socket, 'GET', '/v1/agent/recovery').body as RecoveryView;
}

export function events(a: AgentProcess, type: string): Record<string, unknown>[] {
  // The stream never ends by itself: curl's --max-time cuts it after the replay.
  const r = curl(a.socket, 'GET', `/v1/events?since=0&type=${encodeURIComponent(type)}`, undefined, ['--max-time', '1']);
  return r.raw
    .split('\n')
    .filter((l) => l.trim().startsWith('{'))
    .map((l) => JSON.parse(l) as Record<string, unknown>);
}

export function metric(a: AgentProcess, name: string): number {
  const text = curl(a.socket, 'GET', '/v1/metrics').raw;
  let sum = 0;
  for (const line of text.split('\n')) if (line.startsWith(name)) sum += Number(line.slice(line.lastIndexOf(' ') + 1));
  return sum;
}

/** Asserts every key in `keys` has exactly one live copy, on an agent other than `not`. */
export function assertOnce(copies: Map<string, { agent: number; job: JobView }[]>, keys: string[], not: number | null, what: string): void {
  for (const key of keys) {
    const list = copies.get(key) ?? [];
    assert.equal(list.length, 1, `${what}: ${key} has ${list.length} live copies: ${JSON.stringify(list.map((c) => ({ agent: c.agent, state: c.job.state, epoch: c.job.epoch })))}`);
    if (not !== null) assert.notEqual(list[0]!.agent, not, `${what}: ${key} still runs on agent ${not}`);
  }
}
