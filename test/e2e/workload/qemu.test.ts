import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { QmpClient } from '../../../src/host/qmp-client.ts';
import { cli, curl, startAgent, stopAllAgents, type AgentProcess } from '../../helpers/agent-process.ts';
import { waitFor } from '../../helpers/wait-for.ts';
import { killMatching, makeTmpDir, pidsMatching, requireCommands } from '../drivers/helpers.ts';
import { freeCapacity, getJob, metricValue, submit, waitJob, workloadToml } from './helpers.ts';

/**
 * VMs through a real agent and real QEMU/KVM: submitted on the socket (curl and the CLI),
 * run by the reconcile loop, adopted after a kill -9 of the agent, restarted after a kill
 * of QEMU, stopped and destroyed through the API; failures reported with the driver's
 * words and their capacity released.
 */
describe('workload e2e: qemu VMs through the agent', function () {
  this.timeout(90_000);
  let agent: AgentProcess;
  const vm = (name: string, extra: Record<string, unknown> = {}): Record<string, unknown> => ({ name, kind: 'vm', driver: 'qemu', resources: { vcpus: 1, memoryMiB: 64 }, ...extra });

  before(async function () {
    requireCommands(this, 'qemu-system-x86_64', 'qemu-img');
    // 300 vCPUs of capacity so a VM larger than QEMU's machine limit is admitted and QEMU itself refuses it.
    agent = await startAgent({ dir: makeTmpDir('shoal-wq-'), configToml: workloadToml({ drivers: ['qemu'], vcpus: 300 }) });
  });

  after(async () => {
    const dir = agent?.dir;
    await stopAllAgents();
    // VMs outlive the agent by design; this suite's are all under its directory.
    if (dir) killMatching(dir);
  });

  it('advertises qemu with its probe details', () => {
    const self = curl(agent.socket, 'GET', '/v1/agent/self').body;
    assert.deepEqual(self.drivers, ['qemu'], 'the probed driver is advertised');
    assert.equal(self.driverProbes.qemu.available, true, `qemu probe should succeed: ${self.driverProbes.qemu.reason}`);
    assert.match(self.driverProbes.qemu.details.accel, /^(kvm|tcg)$/);
    const member = curl(agent.socket, 'GET', '/v1/agent/members').body[0];
    assert.deepEqual(member.drivers, ['qemu'], 'gossip (what placement reads) carries the available drivers');
  });

  it('runs a VM submitted with curl (running per QMP), then DELETE stops and destroys it and frees its capacity', async () => {
    const baseline = freeCapacity(agent);
    const job = submit(agent, vm('wq-curl'));
    const running = await waitJob(agent, job.id, 'runs', (j) => j.state === 'running' && j.driverRef !== undefined);
    const ref = running.driverRef!;
    assert.equal(ref, join(agent.dataDir, 'vms', job.id), 'the VM lives in <dataDir>/vms/<jobId>');

    // Ask QEMU itself. QMP takes one client at a time; the agent's own queries are short.
    const status = await waitFor(
      async () => {
        const qmp = await QmpClient.connect(join(ref, 'qmp.sock'), { timeoutMs: 2_000 });
        try {
          return (await qmp.execute<{ status: string }>('query-status')).status;
        } finally {
          qmp.close();
        }
      },
      { timeoutMs: 15_000, what: 'QMP query-status to answer' },
    );
    assert.equal(status, 'running', 'QMP query-status says running');
    assert.equal(pidsMatching(ref).length, 1, 'exactly one QEMU for the job');
    const during = freeCapacity(agent);
    assert.deepEqual([during.vcpus, during.memoryMiB], [baseline.vcpus - 1, baseline.memoryMiB - 64], 'the running VM holds 1 vCPU and 64 MiB');

    const del = curl(agent.socket, 'DELETE', `/v1/jobs/${job.id}`);
    assert.equal(del.status, 200, `DELETE should answer 200: ${del.raw}`);
    await waitJob(agent, job.id, 'is stopped and destroyed', (j) => j.state === 'stopped' && j.reason === 'deleted' && j.driverRef === undefined);
    assert.equal(pidsMatching(ref).length, 0, 'no QEMU left after the stop');
    assert.equal(existsSync(ref), false, 'the VM directory (overlay, QMP socket, manifest) is destroyed');
    assert.deepEqual(freeCapacity(agent), baseline, 'capacity is released');
    assert.ok(metricValue(agent, 'shoal_reconcile_actions_total', { type: 'destroyed', driver: 'qemu' }) >= 1, 'the destroy is counted in /v1/metrics');
  });

  it('adopts a running VM after kill -9 of the agent (CLI submit/stop): still exactly one QEMU, same process', async () => {
    const sub = cli(['submit', '--json', '-'], { address: agent.address, input: JSON.stringify(vm('wq-adopt')) });
    assert.equal(sub.code, 0, `shoal submit should exit 0: ${sub.stderr}`);
    const id = (JSON.parse(sub.stdout) as { id: string }).id;
    const ref = (await waitJob(agent, id, 'runs', (j) => j.state === 'running')).driverRef!;
    const before = pidsMatching(ref);
    assert.equal(before.length, 1, 'one QEMU before the agent dies');

    await agent.kill9();
    assert.deepEqual(pidsMatching(ref), before, 'the VM outlives its agent');
    await agent.restart();
    await waitFor(() => metricValue(agent, 'shoal_reconcile_actions_total', { type: 'adopted', driver: 'qemu' }) >= 1, {
      timeoutMs: 30_000,
      what: 'the restarted agent to adopt the VM (shoal_reconcile_actions_total{type="adopted"})',
    });
    assert.equal(getJob(agent, id).state, 'running', 'the adopted job is running');
    assert.deepEqual(pidsMatching(ref), before, 'pgrep -f shows exactly one QEMU for the job, the original one (not started a second time)');
    assert.equal(metricValue(agent, 'shoal_reconcile_actions_total', { type: 'started', driver: 'qemu' }), 0, 'the restarted agent started nothing');

    const stop = cli(['stop', id], { address: agent.address });
    assert.equal(stop.code, 0, `shoal stop should exit 0: ${stop.stderr}`);
    assert.match(stop.stdout, new RegExp(`job ${id} \\(wq-adopt\\) stopping`));
    await waitJob(agent, id, 'is destroyed', (j) => j.state === 'stopped' && j.driverRef === undefined);
    assert.equal(pidsMatching(ref).length, 0, 'the stop reached the adopted QEMU');
  });

  it('restarts a QEMU killed from outside', async () => {
    const job = submit(agent, vm('wq-killed'));
    const ref = (await waitJob(agent, job.id, 'runs', (j) => j.state === 'running')).driverRef!;
    const [pid] = pidsMatching(ref);
    assert.ok(pid, 'a QEMU runs for the job');
    const restartsBefore = metricValue(agent, 'shoal_reconcile_actions_total', { type: 'restarted', driver: 'qemu' });
    process.kill(pid, 'SIGKILL');
    const fresh = await waitFor(
      () => {
        const pids = pidsMatching(ref);
        return pids.length === 1 && pids[0] !== pid && getJob(agent, job.id).state === 'running' ? pids[0] : undefined;
      },
      { timeoutMs: 30_000, what: 'the reconcile loop to start a new QEMU for the killed VM' },
    );
    assert.notEqual(fresh, pid, 'a new QEMU process');
    // The job reads running just before the loop counts the restart: wait for the counter rather than race it.
    await waitFor(() => metricValue(agent, 'shoal_reconcile_actions_total', { type: 'restarted', driver: 'qemu' }) > restartsBefore, {
      timeoutMs: 10_000,
      what: 'shoal_reconcile_actions_total{type="restarted",driver="qemu"} to count the restart',
    });
    assert.equal(curl(agent.socket, 'DELETE', `/v1/jobs/${job.id}`).status, 200);
    await waitJob(agent, job.id, 'is destroyed', (j) => j.state === 'stopped' && j.driverRef === undefined);
  });

  it('fails a VM whose image is missing with the driver message, leaves nothing behind and releases its capacity', async () => {
    const image = join(agent.dir, 'no-such-image.qcow2');
    const before = freeCapacity(agent);
    const job = submit(agent, vm('wq-noimage', { image, resources: { vcpus: 2, memoryMiB: 128 } }));
    const failed = await waitJob(agent, job.id, 'fails', (j) => j.state === 'failed');
    assert.equal(failed.reason, `image ${image} does not exist`, 'the reason is the driver message');
    assert.equal(existsSync(join(agent.dataDir, 'vms', job.id)), false, 'nothing half-created');
    assert.deepEqual(freeCapacity(agent), before, 'capacity.free is back to what it was');
    assert.ok(metricValue(agent, 'shoal_reconcile_driver_errors_total', { driver: 'qemu', code: 'DRIVER_IMAGE_MISSING' }) >= 1, 'the driver error is counted by code');
  });

  it('fails a VM that QEMU refuses to start with QEMU\'s own message, and releases its capacity', async () => {
    // q35 takes at most 288 vCPUs: the hypervisor command itself fails.
    const before = freeCapacity(agent);
    const job = submit(agent, vm('wq-toobig', { resources: { vcpus: 290, memoryMiB: 64 } }));
    const failed = await waitJob(agent, job.id, 'fails', (j) => j.state === 'failed');
    assert.match(failed.reason ?? '', /QEMU failed to start VM wq-toobig: .*Invalid SMP CPUs 290/, `the reason carries QEMU's error: ${failed.reason}`);
    assert.equal(existsSync(join(agent.dataDir, 'vms', job.id)), false, 'the created VM was destroyed after the failed start');
    assert.equal(pidsMatching(join(agent.dataDir, 'vms', job.id)).length, 0, 'no QEMU left');
    assert.deepEqual(freeCapacity(agent), before, 'capacity.free is back to what it was');
  });
});
