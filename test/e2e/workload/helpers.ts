import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import type { JobRecord } from '../../../src/core/job.ts';
import { curl, type AgentProcess } from '../../helpers/agent-process.ts';
import { waitFor } from '../../helpers/wait-for.ts';

/** Shared steps of the workload e2e suites: real agents, real hypervisors, driven through the socket. */

export interface Free {
  vcpus: number;
  memoryMiB: number;
  diskGiB: number;
}

/**
 * An agent config for hypervisor tests: fixed capacity (so `capacity.free` is exact on any
 * machine), no overcommit, a fast reconcile loop and a short stop grace (firmware-only VMs
 * ignore ACPI powerdown, so every stop waits the full grace).
 */
export function workloadToml(opts: { drivers: string[]; vcpus?: number; memoryMiB?: number; importUnknown?: boolean; extra?: string }): string {
  return [
    '[host]',
    `drivers = [${opts.drivers.map((d) => `"${d}"`).join(', ')}]`,
    `capacity = { vcpus = ${opts.vcpus ?? 8}, memory_mib = ${opts.memoryMiB ?? 4096}, disk_gib = 50 }`,
    'overcommit = { cpu = 1.0 }',
    'reserved = { vcpus = 0, memory_mib = 0, disk_gib = 0 }',
    'reconcile_interval_ms = 1000',
    'stop_grace_ms = 1000',
    `import_unknown = ${opts.importUnknown ? 'true' : 'false'}`,
    opts.extra ?? '',
    '',
  ].join('\n');
}

export function submit(agent: AgentProcess, spec: Record<string, unknown>): JobRecord {
  const r = curl(agent.socket, 'POST', '/v1/jobs', spec);
  assert.equal(r.status, 201, `POST /v1/jobs should accept ${String(spec.name)} with 201: ${r.raw}`);
  return r.body as JobRecord;
}

export function getJob(agent: AgentProcess, id: string): JobRecord {
  const r = curl(agent.socket, 'GET', `/v1/jobs/${id}`);
  assert.equal(r.status, 200, `GET /v1/jobs/${id} should answer 200: ${r.raw}`);
  return r.body as JobRecord;
}

export function listJobs(agent: AgentProcess): JobRecord[] {
  const r = curl(agent.socket, 'GET', '/v1/jobs');
  assert.equal(r.status, 200, `GET /v1/jobs should answer 200: ${r.raw}`);
  return r.body as JobRecord[];
}

/** Polls the job through the API until `test` holds; the failure message shows the last record seen. */
export async function waitJob(agent: AgentProcess, id: string, what: string, test: (j: JobRecord) => boolean, timeoutMs = 30_000): Promise<JobRecord> {
  let last: JobRecord | undefined;
  try {
    return await waitFor(
      () => {
        last = getJob(agent, id);
        return test(last) ? last : undefined;
      },
      { timeoutMs, what: `job ${id} ${what}`, intervalMs: 100 },
    );
  } catch (err) {
    throw new Error(`${(err as Error).message}; last record: ${JSON.stringify(last && { state: last.state, desired: last.desired, reason: last.reason, driverRef: last.driverRef })}\n--- agent log tail ---\n${agent.output().slice(-3000)}`);
  }
}

export function freeCapacity(agent: AgentProcess): Free {
  const r = curl(agent.socket, 'GET', '/v1/agent/self');
  assert.equal(r.status, 200, `GET /v1/agent/self should answer 200: ${r.raw}`);
  return r.body.capacity.free as Free;
}

/** Sum of a counter's samples in `/v1/metrics` whose labels include all of `labels`. */
export function metricValue(agent: AgentProcess, name: string, labels: Record<string, string> = {}): number {
  const r = curl(agent.socket, 'GET', '/v1/metrics');
  assert.equal(r.status, 200, 'GET /v1/metrics should answer 200');
  let sum = 0;
  for (const line of String(r.raw).split('\n')) {
    if (!line.startsWith(`${name}{`) && !line.startsWith(`${name} `)) continue;
    if (Object.entries(labels).every(([k, v]) => line.includes(`${k}="${v}"`))) sum += Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return sum;
}

export const VIRSH_URI = 'qemu:///system';

export function virsh(...args: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync('virsh', ['-c', VIRSH_URI, ...args], { encoding: 'utf8', timeout: 30_000 });
  return { status: r.status, stdout: r.stdout ?? '', stderr: r.stderr ?? '' };
}

/** Destroys and undefines a domain if it exists; for cleanup. */
export function removeDomain(name: string): void {
  virsh('destroy', name);
  virsh('undefine', name);
}

/** A unique word to find a test's processes by (`sleep <marker>`), never matching another test's. */
export function marker(): string {
  return String(100_000 + Math.floor(Math.random() * 800_000));
}
