import assert from 'node:assert/strict';
import { accessSync, constants, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { JobRecord } from '../../../src/core/job.ts';
import { cli, curl, startAgent, stopAllAgents, tempDir, type AgentProcess } from '../../helpers/agent-process.ts';
import { waitFor } from '../../helpers/wait-for.ts';
import { makeTmpDir, removeDir, requireCommands } from '../drivers/helpers.ts';
import { freeCapacity, listJobs, marker, metricValue, removeDomain, submit, virsh, VIRSH_URI, waitJob, workloadToml } from './helpers.ts';

/**
 * VMs through a real agent and the real system libvirtd: the lifecycle of a job pinned to
 * libvirt, and import (`host.import_unknown = true`) of domains created directly with
 * `virsh`, both present at the agent's start and created while it runs.
 *
 * Import looks at every domain of qemu:///system. Another suite running at the same moment
 * could have its domains imported (and, being desired running, restarted) by this agent
 * for the few seconds it lives; cleanup only removes this suite's domains and the ones this
 * agent created (`shoal-<one of its job ids>`).
 */
describe('workload e2e: libvirt domains through the agent, and import', function () {
  this.timeout(90_000);
  let agent: AgentProcess | undefined;
  let xmlDir: string;
  const prefix = `shoalw${marker()}-`;
  const handmade = (suffix: string): string => `${prefix}${suffix}`;

  function defineAndStart(name: string, memoryMiB: number): void {
    let type = 'qemu';
    try {
      accessSync('/dev/kvm', constants.R_OK | constants.W_OK);
      type = 'kvm';
    } catch {
      // TCG: slower, but still a real domain
    }
    const xml = join(xmlDir, `${name}.xml`);
    writeFileSync(
      xml,
      `<domain type='${type}'><name>${name}</name><memory unit='MiB'>${memoryMiB}</memory><vcpu>1</vcpu>` +
        `<os><type arch='x86_64' machine='q35'>hvm</type></os><devices><memballoon model='none'/></devices></domain>`,
    );
    const def = virsh('define', xml);
    assert.equal(def.status, 0, `virsh define ${name}: ${def.stderr}`);
    const start = virsh('start', name);
    assert.equal(start.status, 0, `virsh start ${name}: ${start.stderr}`);
  }

  const importedJob = (ref: string): JobRecord | undefined => listJobs(agent!).find((j) => j.driverRef === ref);

  before(async function () {
    requireCommands(this, 'virsh', 'qemu-img');
    const probe = virsh('list', '--all');
    if (probe.status !== 0) {
      console.log(`    skipped: virsh -c ${VIRSH_URI} does not answer (${probe.stderr.trim()}); run scripts/setup-hypervisors.sh`);
      this.skip();
    }
    xmlDir = tempDir('shoal-wl-xml-');
    // Made by an operator before the agent ever ran on this host.
    defineAndStart(handmade('before'), 48);
    agent = await startAgent({ dir: makeTmpDir('shoal-wl-'), configToml: workloadToml({ drivers: ['libvirt'], importUnknown: true }) });
  });

  after(async () => {
    const ids = agent && agent.proc.exitCode === null ? listJobs(agent).map((j) => j.id) : [];
    await stopAllAgents();
    for (const id of ids) if (virsh('domstate', `shoal-${id}`).status === 0) removeDomain(`shoal-${id}`);
    for (const suffix of ['before', 'during']) removeDomain(handmade(suffix));
    removeDir(xmlDir);
  });

  it('imports a running domain created with virsh before the agent started, as a running job that holds capacity', async () => {
    const ref = handmade('before');
    const job = await waitFor(() => importedJob(ref), { timeoutMs: 30_000, what: `the agent to import domain ${ref}` });
    assert.equal(job.driver, 'libvirt');
    assert.equal(job.state, 'running', 'a running domain is imported as running');
    assert.equal(job.desired, 'running', 'and kept running (restarted after a host reboot)');
    assert.equal(job.spec.name, ref, 'the job is named after the domain');
    assert.deepEqual([job.spec.resources.vcpus, job.spec.resources.memoryMiB], [1, 48], 'the spec carries the size libvirt reports');
    assert.equal(job.spec.labels['shoal.imported'], 'true', 'imported jobs are labelled');
    const self = curl(agent!.socket, 'GET', '/v1/agent/self').body;
    assert.ok(self.capacity.reserved.memoryMiB >= 48, `the imported VM holds its memory: reserved ${JSON.stringify(self.capacity.reserved)}`);
    assert.equal(virsh('domstate', ref).stdout.trim(), 'running', 'import leaves the domain running');
    // The record is stored before the loop counts the import: wait for the counter rather than race it.
    await waitFor(() => metricValue(agent!, 'shoal_reconcile_actions_total', { type: 'imported', driver: 'libvirt' }) >= 1, {
      timeoutMs: 10_000,
      what: 'shoal_reconcile_actions_total{type="imported",driver="libvirt"} to count the import',
    });
  });

  it('runs a job pinned to libvirt: running in virsh, then shoal stop destroys and undefines the domain and frees capacity', async () => {
    const before = freeCapacity(agent!);
    const job = submit(agent!, { name: 'wl-life', kind: 'vm', driver: 'libvirt', resources: { vcpus: 1, memoryMiB: 64 } });
    const running = await waitJob(agent!, job.id, 'runs', (j) => j.state === 'running');
    assert.equal(running.driverRef, `shoal-${job.id}`, 'the domain is named shoal-<jobId>');
    assert.equal(virsh('domstate', `shoal-${job.id}`).stdout.trim(), 'running', 'virsh domstate says running');
    const during = freeCapacity(agent!);
    assert.deepEqual([during.vcpus, during.memoryMiB], [before.vcpus - 1, before.memoryMiB - 64], 'the job holds 1 vCPU and 64 MiB');

    const stop = cli(['stop', job.id], { address: agent!.address });
    assert.equal(stop.code, 0, `shoal stop should exit 0: ${stop.stderr}`);
    await waitJob(agent!, job.id, 'is destroyed', (j) => j.state === 'stopped' && j.driverRef === undefined);
    assert.notEqual(virsh('domstate', `shoal-${job.id}`).status, 0, 'the domain is undefined');
    assert.ok(!virsh('list', '--all', '--name').stdout.split('\n').includes(`shoal-${job.id}`), 'virsh list --all no longer shows it');
    const after = freeCapacity(agent!);
    assert.deepEqual([after.vcpus, after.memoryMiB], [before.vcpus, before.memoryMiB], 'capacity is released');
  });

  it('imports a domain created while the agent runs on a later pass; deleting the imported job destroys the domain', async () => {
    const ref = handmade('during');
    defineAndStart(ref, 40);
    const job = await waitFor(() => importedJob(ref), { timeoutMs: 30_000, what: `the reconcile loop to import domain ${ref}` });
    assert.equal(job.state, 'running');
    assert.equal(job.spec.resources.memoryMiB, 40);
    const del = curl(agent!.socket, 'DELETE', `/v1/jobs/${job.id}`);
    assert.equal(del.status, 200, `DELETE should answer 200: ${del.raw}`);
    await waitJob(agent!, job.id, 'is destroyed', (j) => j.state === 'stopped' && j.reason === 'deleted');
    assert.notEqual(virsh('domstate', ref).status, 0, 'the imported domain is destroyed and undefined');
  });
});
