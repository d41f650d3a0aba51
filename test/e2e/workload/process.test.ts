import assert from 'node:assert/strict';
import { rmdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { cli, curl, startAgent, stopAllAgents, type AgentProcess } from '../../helpers/agent-process.ts';
import { waitFor } from '../../helpers/wait-for.ts';
import { makeTmpDir, pidsOfCommand, requireCommands } from '../drivers/helpers.ts';
import { freeCapacity, marker, metricValue, submit, waitJob, workloadToml } from './helpers.ts';

interface UsageRowJson {
  tenant: string;
  jobId?: string;
  runningSeconds: number;
  vcpuSeconds: number;
  memoryMiBSeconds: number;
  from: string;
  to: string;
}

/**
 * Process jobs through a real agent: a memory limit that kills, usage metering that bills
 * the measured running time (across a kill -9 of the agent, and persisted across restarts),
 * and a job whose driver is no longer available.
 */
describe('workload e2e: process jobs, metering and driver loss through the agent', function () {
  this.timeout(90_000);
  let agent: AgentProcess;
  const stray: string[] = [];
  const jobIds: string[] = [];

  before(async function () {
    requireCommands(this, 'qemu-system-x86_64', 'qemu-img');
    agent = await startAgent({ dir: makeTmpDir('shoal-wp-'), configToml: workloadToml({ drivers: ['process', 'qemu'] }) });
  });

  after(async () => {
    await stopAllAgents();
    // The driver-loss test leaves its process running on purpose (no driver may touch it): end it here.
    for (const mk of stray) for (const pid of pidsOfCommand('sleep', mk)) process.kill(pid, 'SIGKILL');
    await waitFor(() => stray.every((mk) => pidsOfCommand('sleep', mk).length === 0), { timeoutMs: 10_000, what: 'stray test processes to exit' });
    for (const id of jobIds) {
      for (const ctl of ['memory', 'cpu', 'cpuacct']) {
        try {
          rmdirSync(`/sys/fs/cgroup/${ctl}/shoal/${id}`);
        } catch {
          // not a cgroup v1 host, or already removed by the driver
        }
      }
    }
  });

  it('marks a job that exceeds its memory limit failed with the reason, and releases its capacity', async function () {
    const mode = String(curl(agent.socket, 'GET', '/v1/agent/self').body.driverProbes.process.details.limitMode);
    if (mode === 'rlimit') {
      console.log('    skipped: no writable cgroups here, so no per-job OOM killer (process limit mode rlimit)');
      this.skip();
    }
    const before = freeCapacity(agent);
    const job = submit(agent, {
      name: 'wp-oom',
      kind: 'process',
      resources: { vcpus: 1, memoryMiB: 64 },
      restart: 'never',
      // Touches 1 MiB buffers until the 64 MiB limit kills it.
      command: [process.execPath, '-e', 'const a=[];for(;;)a.push(Buffer.alloc(1<<20,1))'],
    });
    jobIds.push(job.id);
    const failed = await waitJob(agent, job.id, 'is OOM-killed and reported', (j) => j.state === 'failed');
    assert.equal(failed.reason, 'OOM-killed: exceeded its memory limit of 64 MiB', `limit mode ${mode}: the reason names the limit`);
    assert.deepEqual(freeCapacity(agent), before, 'capacity.free is back to what it was');
  });

  it('bills the measured running time (vCPU-, memory-MiB- and running seconds), across a kill -9 of the agent and after restarts', async () => {
    const tenant = `acme-${marker()}`;
    const mk = marker();
    const job = submit(agent, { name: 'wp-meter', kind: 'process', tenant, resources: { vcpus: 2, memoryMiB: 96 }, command: ['sleep', mk] });
    jobIds.push(job.id);
    await waitJob(agent, job.id, 'runs', (j) => j.state === 'running');
    const runningSeenAt = Date.now();
    const usage = (): UsageRowJson | undefined => {
      const r = curl(agent.socket, 'GET', `/v1/usage?tenant=${tenant}`);
      assert.equal(r.status, 200, `GET /v1/usage should answer 200: ${r.raw}`);
      return (r.body.rows as UsageRowJson[]).find((row) => row.jobId === job.id);
    };
    await waitFor(() => (usage()?.runningSeconds ?? 0) >= 2, { timeoutMs: 20_000, what: 'usage to count 2 s of running time' });

    // The agent dies; the process runs on; the new agent must bill the time it was away.
    await agent.kill9();
    await agent.restart();
    await waitJob(agent, job.id, 'is adopted', (j) => j.state === 'running');
    await waitFor(() => (usage()?.runningSeconds ?? 0) >= (Date.now() - runningSeenAt) / 1000 - 2, {
      timeoutMs: 20_000,
      what: 'usage to include the time the agent was down',
    });
    assert.equal(pidsOfCommand('sleep', mk).length, 1, 'one process, adopted, not started twice');

    const stop = cli(['stop', job.id], { address: agent.address });
    assert.equal(stop.code, 0, `shoal stop should exit 0: ${stop.stderr}`);
    await waitJob(agent, job.id, 'stops', (j) => j.state === 'stopped');
    const stoppedSeenAt = Date.now();
    const measuredS = (stoppedSeenAt - runningSeenAt) / 1000;

    const row = usage();
    assert.ok(row, 'a usage row for the job');
    console.log(`    billed ${row.runningSeconds} s of running time, measured ${measuredS.toFixed(2)} s from the API`);
    // /proc start times have 1 s resolution (btime) and our observations ~0.1 s polling.
    assert.ok(Math.abs(row.runningSeconds - measuredS) <= 2.5, `billed ${row.runningSeconds} s, measured ${measuredS.toFixed(2)} s: must agree within 2.5 s`);
    assert.ok(Math.abs(row.vcpuSeconds - 2 * row.runningSeconds) <= 0.01, `2 vCPUs: vcpuSeconds ${row.vcpuSeconds} = 2 × ${row.runningSeconds}`);
    assert.ok(Math.abs(row.memoryMiBSeconds - 96 * row.runningSeconds) <= 0.1, `96 MiB: memoryMiBSeconds ${row.memoryMiBSeconds} = 96 × ${row.runningSeconds}`);
    assert.ok(metricValue(agent, 'shoal_usage_running_seconds_total') > 0, 'metering is counted in /v1/metrics');

    // Per tenant, the same figures (one job in this tenant).
    const byTenant = curl(agent.socket, 'GET', `/v1/usage?tenant=${tenant}&by=tenant`).body;
    assert.equal(byTenant.groupBy, 'tenant');
    assert.deepEqual(
      byTenant.rows.map((r: UsageRowJson) => [r.tenant, r.runningSeconds, r.vcpuSeconds]),
      [[tenant, row.runningSeconds, row.vcpuSeconds]],
      'the tenant total is the job total',
    );

    // CSV for billing systems, the same numbers.
    const csv = curl(agent.socket, 'GET', `/v1/usage?tenant=${tenant}&format=csv`, undefined, ['-i']);
    assert.match(csv.raw, /content-type: text\/csv; charset=utf-8/i);
    const csvLines = csv.raw.slice(csv.raw.indexOf('\r\n\r\n') + 4).trim().split('\r\n');
    assert.equal(csvLines[0], 'tenant,job_id,from,to,running_seconds,vcpu_seconds,memory_mib_seconds', 'CSV header');
    assert.deepEqual(csvLines.slice(1).map((l) => l.split(',')).map((f) => [f[0], f[1], Number(f[4]), Number(f[5]), Number(f[6])]), [
      [tenant, job.id, row.runningSeconds, row.vcpuSeconds, row.memoryMiBSeconds],
    ]);

    // The CLI: aligned columns per job and per tenant, and the same CSV.
    const table = cli(['usage', '--tenant', tenant], { address: agent.address });
    assert.equal(table.code, 0, `shoal usage should exit 0: ${table.stderr}`);
    const lines = table.stdout.split('\n');
    assert.match(lines[0]!, /^JOB\s+NAME\s+TENANT\s+RUNNING\s+RUNNING_S\s+VCPU_S\s+MEMORY_MIB_S\s+FROM\s+TO$/);
    assert.match(lines[1]!, new RegExp(`^${job.id}\\s+wp-meter\\s+${tenant}\\s+\\d+s\\s+${row.runningSeconds.toFixed(3)}\\s+${row.vcpuSeconds.toFixed(3)}\\s+`));
    assert.equal(lines[1]!.indexOf(tenant), lines[0]!.indexOf('TENANT'), 'columns are aligned');
    assert.ok(lines.some((l) => new RegExp(`^${tenant}\\s+\\d+s\\s+${row.runningSeconds.toFixed(3)}\\s`).test(l)), `a per-tenant row:\n${table.stdout}`);
    const cliCsv = cli(['usage', '--tenant', tenant, '--csv'], { address: agent.address });
    assert.equal(cliCsv.stdout.trim(), csvLines.join('\r\n'), 'shoal usage --csv prints what the API exports');
    const future = cli(['usage', '--tenant', tenant, '--since', '2999-01-01'], { address: agent.address });
    assert.equal(future.code, 0);
    assert.match(future.stdout, /no usage recorded/, '--since after every bucket selects nothing');
    const bad = cli(['usage', '--since', 'yesterday'], { address: agent.address });
    assert.equal(bad.code, 1, 'a bad --since is an error');
    assert.match(bad.stderr, /API_BAD_REQUEST: invalid query: since: must be an ISO 8601 date/);

    // Usage is durable: a restart changes nothing for a stopped job.
    await agent.restart();
    const after = usage();
    assert.deepEqual(after, row, 'usage after a restart equals usage before it');
  });

  it('fails a job whose driver is no longer available (config changed), with the reason, and releases its capacity', async () => {
    const mk = marker();
    stray.push(mk);
    const before = freeCapacity(agent);
    const job = submit(agent, { name: 'wp-orphan', kind: 'process', resources: { vcpus: 1, memoryMiB: 32 }, command: ['sleep', mk] });
    jobIds.push(job.id);
    await waitJob(agent, job.id, 'runs', (j) => j.state === 'running');
    writeFileSync(join(agent.dir, 'shoal.toml'), workloadToml({ drivers: ['qemu'] }));
    await agent.restart();
    const self = curl(agent.socket, 'GET', '/v1/agent/self').body;
    assert.deepEqual(self.drivers, ['qemu'], 'only the configured driver is advertised');
    const failed = await waitJob(agent, job.id, 'fails', (j) => j.state === 'failed');
    assert.equal(failed.reason, 'driver process is not available on this host');
    assert.deepEqual(freeCapacity(agent), before, 'capacity.free is back to what it was');
    await waitFor(() => metricValue(agent, 'shoal_reconcile_actions_total', { type: 'failed', driver: 'process' }) >= 1, {
      timeoutMs: 10_000,
      what: 'shoal_reconcile_actions_total{type="failed",driver="process"} to count the failure',
    });
  });
});
