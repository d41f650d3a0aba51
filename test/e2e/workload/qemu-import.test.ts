import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import { join } from 'node:path';
import type { JobRecord } from '../../../src/core/job.ts';
import { curl, startAgent, stopAllAgents, type AgentProcess } from '../../helpers/agent-process.ts';
import { waitFor } from '../../helpers/wait-for.ts';
import { killMatching, makeTmpDir, pidsMatching, removeDir, requireCommands } from '../drivers/helpers.ts';
import { listJobs, waitJob, workloadToml } from './helpers.ts';

/**
 * Import of a QEMU that Shoal did not start (`host.import_unknown = true`): a
 * `qemu-system-x86_64` with a QMP unix socket, started by hand before the agent, becomes a
 * running job with the size from its command line, and deleting the job stops it.
 *
 * Import looks at every QEMU with a QMP socket on the host: if another suite runs QEMUs at
 * the same moment, this agent imports them too, and whatever it creates for them lives
 * under its own directory, which cleanup removes.
 */
describe('workload e2e: import of a hand-started QEMU through the agent', function () {
  this.timeout(60_000);
  let agent: AgentProcess | undefined;
  let handDir: string;
  let socket: string;

  before(async function () {
    requireCommands(this, 'qemu-system-x86_64', 'qemu-img');
    handDir = makeTmpDir('shoal-wi-');
    socket = join(handDir, 'hand.sock');
    let accel = 'tcg';
    try {
      accessSync('/dev/kvm', constants.R_OK | constants.W_OK);
      accel = 'kvm';
    } catch {
      // TCG works everywhere, only slower
    }
    const r = spawnSync(
      'qemu-system-x86_64',
      ['-name', 'guest=wqi-handmade', '-machine', 'q35', '-accel', accel, '-m', '48', '-smp', '1', '-nodefaults', '-display', 'none', '-daemonize', '-qmp', `unix:${socket},server=on,wait=off`],
      { encoding: 'utf8', timeout: 30_000 },
    );
    assert.equal(r.status, 0, `a hand-started QEMU should run: ${r.stderr}`);
    agent = await startAgent({ dir: makeTmpDir('shoal-wj-'), configToml: workloadToml({ drivers: ['qemu'], importUnknown: true }) });
  });

  after(async () => {
    const dir = agent?.dir;
    await stopAllAgents();
    if (dir) killMatching(dir);
    if (handDir) {
      killMatching(handDir);
      removeDir(handDir);
    }
  });

  it('imports the QEMU as a running job sized from its command line; DELETE stops it', async () => {
    const job = await waitFor(() => listJobs(agent!).find((j: JobRecord) => j.driverRef?.endsWith(socket)), { timeoutMs: 30_000, what: `the agent to import the QEMU on ${socket}` });
    assert.equal(job.driver, 'qemu');
    assert.equal(job.state, 'running');
    assert.equal(job.spec.name, 'wqi-handmade', 'named after -name guest=');
    assert.deepEqual([job.spec.resources.vcpus, job.spec.resources.memoryMiB], [1, 48], 'sized from -smp and -m');
    assert.equal(job.spec.labels['shoal.imported'], 'true');
    assert.equal(pidsMatching(socket).length, 1, 'the import adopted the QEMU; it did not start another');

    const del = curl(agent!.socket, 'DELETE', `/v1/jobs/${job.id}`);
    assert.equal(del.status, 200, `DELETE should answer 200: ${del.raw}`);
    await waitJob(agent!, job.id, 'is stopped', (j) => j.state === 'stopped' && j.reason === 'deleted');
    await waitFor(() => pidsMatching(socket).length === 0, { timeoutMs: 10_000, what: 'the imported QEMU to exit' });
  });
});
