import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { DriverName, JobRecord } from '../../../src/core/job.ts';
import type { Driver } from '../../../src/host/driver.ts';
import { InMemoryJobRepository, InMemoryUsageRepository } from '../../../src/host/in-memory-repositories.ts';
import type { ImportCallback } from '../../../src/host/job-repository.ts';
import { LibvirtDriver, defaultLibvirtDriverOptions } from '../../../src/host/libvirt-driver.ts';
import { Metering, defaultMeteringOptions } from '../../../src/host/metering.ts';
import { ProcessDriver, defaultProcessDriverOptions } from '../../../src/host/process-driver.ts';
import { QemuDriver, defaultQemuDriverOptions } from '../../../src/host/qemu-driver.ts';
import { Reconciler, defaultReconcilerOptions, type ReconcilerEvent, type ReconcilerOptions } from '../../../src/host/reconciler.ts';
import { record } from '../../unit/host/host-fixtures.ts';
import { killMatching, makeTmpDir, pidsMatching, removeDir, requireCommands, waitUntil, wallClock } from './helpers.ts';

/** Fast timings so the tests run in seconds; the logic is the same as with the defaults. */
const FAST: Partial<ReconcilerOptions> = {
  intervalMs: 200,
  stopGraceMs: 300,
  callTimeoutMs: 30_000,
  restartBackoffInitialMs: 300,
  restartBackoffMaxMs: 2_000,
  backoffResetAfterMs: 60_000,
};

interface Agent {
  rec: Reconciler;
  events: ReconcilerEvent[];
}

function agent(
  dataDir: string,
  repo: InMemoryJobRepository,
  drivers: Map<DriverName, Driver>,
  extra: { metering?: Metering; importInstance?: ImportCallback; opts?: Partial<ReconcilerOptions> } = {},
): Agent {
  const events: ReconcilerEvent[] = [];
  const rec = new Reconciler(
    { ...defaultReconcilerOptions, ...FAST, dataDir, hostId: 'host-a', ...extra.opts },
    {
      clock: wallClock,
      repository: repo,
      drivers,
      onEvent: (ev) => events.push(ev),
      importInstance: extra.importInstance ?? null,
      metering: extra.metering ?? null,
      metrics: null,
      log: null,
    },
  );
  rec.start();
  return { rec, events };
}

describe('reconciler against real hypervisors', function () {
  this.timeout(120_000);
  let dataDir: string;
  let repo: InMemoryJobRepository;
  const agents: Agent[] = [];

  beforeEach(() => {
    dataDir = makeTmpDir('shoal-r-');
    repo = new InMemoryJobRepository(() => Date.now());
  });

  afterEach(async () => {
    for (const a of agents.splice(0)) await a.rec.stop();
    // Destroy what the jobs left (settled jobs keep their instance, e.g. a process job's cgroup).
    for (const d of [new ProcessDriver({ ...defaultProcessDriverOptions, dataDir }, { log: null }), new QemuDriver({ ...defaultQemuDriverOptions, dataDir }, { log: null })]) {
      for (const i of await d.list().catch(() => [])) if (i.jobId) await d.destroy(i.ref).catch(() => undefined);
    }
    killMatching(dataDir);
    removeDir(dataDir);
  });

  const state = (id: string): JobRecord => repo.get(id)!;

  describe('qemu', () => {
    before(function () {
      requireCommands(this, 'qemu-system-x86_64', 'qemu-img');
    });

    it('runs a VM, is adopted by a restarted agent (one QEMU), restarts it after kill -9 with back-off, meters it, stops and deletes it', async () => {
      const qemu = (): Map<DriverName, Driver> => new Map<DriverName, Driver>([['qemu', new QemuDriver({ ...defaultQemuDriverOptions, dataDir }, { log: null })]]);
      const usage = new InMemoryUsageRepository();
      const metering = new Metering(defaultMeteringOptions, { repository: usage, metrics: null });
      repo.put(record('vm1', { tenant: 'acme', resources: { vcpus: 1, memoryMiB: 64 } }, { driver: 'qemu' }));
      const t0 = Date.now();
      let a = agent(dataDir, repo, qemu(), { metering });
      agents.push(a);
      await waitUntil('the VM runs', () => state('vm1').state === 'running', 30_000);
      const vmDir = state('vm1').driverRef!;
      assert.equal(vmDir, join(dataDir, 'vms', 'vm1'));
      const [firstPid] = pidsMatching(vmDir);
      assert.ok(firstPid, 'a QEMU runs for the VM');

      // Agent restart: a fresh driver and reconciler, same on-disk state.
      await a.rec.stop();
      a = agent(dataDir, repo, qemu(), { metering });
      agents.push(a);
      await waitUntil('the new agent adopts the VM', () => a.events.some((e) => e.type === 'adopted' && e.jobId === 'vm1'), 10_000);
      assert.deepEqual(pidsMatching(vmDir), [firstPid], 'exactly one QEMU, the same one, after adoption');

      // Killed from outside: restarted after a back-off, by the loop.
      process.kill(firstPid, 'SIGKILL');
      await waitUntil('a restart is scheduled', () => a.events.some((e) => e.type === 'restart-scheduled'), 10_000);
      const sched = a.events.find((e) => e.type === 'restart-scheduled')!;
      assert.equal(sched.delayMs, 300, 'first restart waits the initial back-off');
      await waitUntil('the VM is restarted', () => a.events.some((e) => e.type === 'restarted'), 20_000);
      const restarted = a.events.find((e) => e.type === 'restarted')!;
      assert.ok(restarted.atMs - sched.atMs >= 300, `restart came ${restarted.atMs - sched.atMs} ms after scheduling, before its back-off`);
      const pids = pidsMatching(vmDir);
      assert.equal(pids.length, 1, 'one QEMU after the restart');
      assert.notEqual(pids[0], firstPid, 'a new QEMU');

      // Desired stopped.
      repo.put({ ...state('vm1'), desired: 'stopped' });
      a.rec.kick();
      await waitUntil('the VM is stopped', () => state('vm1').state === 'stopped', 30_000);
      const t1 = Date.now();
      assert.equal(pidsMatching(vmDir).length, 0, 'no QEMU after stop');
      const [row] = await metering.report({ groupBy: 'job' });
      const wallSeconds = (t1 - t0) / 1000;
      // Running the whole time except the kill → restart gap (≥ 300 ms back-off).
      assert.ok(row!.runningSeconds <= wallSeconds, `metered ${row!.runningSeconds} s > wall ${wallSeconds} s`);
      assert.ok(row!.runningSeconds >= wallSeconds - 3, `metered ${row!.runningSeconds} s, expected about ${wallSeconds} s minus the restart gap`);
      assert.equal(row!.memoryMiBSeconds, Math.round(row!.runningSeconds * 64 * 1000) / 1000);

      repo.put({ ...state('vm1'), desired: 'deleted' });
      a.rec.kick();
      await waitUntil('the VM is deleted', () => state('vm1').reason === 'deleted', 30_000);
      assert.equal(existsSync(vmDir), false, 'nothing left on disk');
    });

    it('marks a VM with a missing image failed with the driver message, leaving nothing', async () => {
      const drivers = new Map<DriverName, Driver>([['qemu', new QemuDriver({ ...defaultQemuDriverOptions, dataDir }, { log: null })]]);
      repo.put(record('vm2', { image: join(dataDir, 'nope.qcow2') }, { driver: 'qemu' }));
      const a = agent(dataDir, repo, drivers);
      agents.push(a);
      await waitUntil('the job fails', () => state('vm2').state === 'failed', 15_000);
      assert.match(state('vm2').reason!, /image .*nope\.qcow2 does not exist/, `reason: ${state('vm2').reason}`);
      assert.equal(a.events.find((e) => e.type === 'failed')?.code, 'DRIVER_IMAGE_MISSING');
      assert.equal(existsSync(join(dataDir, 'vms', 'vm2')), false, 'no VM directory');
    });
  });

  describe('libvirt', () => {
    const prefix = `shoalrec-${process.pid}-`;
    const virsh = (...args: string[]) => spawnSync('virsh', ['-c', 'qemu:///system', ...args], { encoding: 'utf8', timeout: 30_000 });

    before(function () {
      requireCommands(this, 'virsh');
      if (virsh('list').status !== 0) {
        console.log('    skipped: libvirtd does not answer; run scripts/setup-hypervisors.sh');
        this.skip();
      }
    });

    afterEach(() => {
      for (const n of virsh('list', '--all', '--name').stdout.split('\n').map((s) => s.trim())) {
        if (!n.startsWith(prefix)) continue;
        virsh('destroy', n);
        virsh('undefine', n);
      }
    });

    it('runs a job as a domain and imports a domain created directly with virsh', async () => {
      const lv = new LibvirtDriver({ ...defaultLibvirtDriverOptions, dataDir, domainPrefix: prefix }, { log: null });
      // A domain an operator made by hand, before Shoal.
      const name = `${prefix}handmade`;
      const xml = join(dataDir, 'handmade.xml');
      writeFileSync(xml, `<domain type='qemu'><name>${name}</name><memory unit='MiB'>32</memory><vcpu>1</vcpu><os><type arch='x86_64' machine='q35'>hvm</type></os><devices><memballoon model='none'/></devices></domain>`);
      assert.equal(virsh('define', xml).status, 0);
      assert.equal(virsh('start', name).status, 0);

      const importInstance: ImportCallback = async (c) => {
        if (!c.instance.ref.startsWith(prefix)) return undefined; // leave other tests' and the host's domains alone
        const r = record(`imported-${c.instance.name}`, { resources: { vcpus: c.instance.vcpus ?? 1, memoryMiB: c.instance.memoryMiB ?? 64 } }, { driver: c.driver, state: 'running', driverRef: c.instance.ref });
        repo.put(r);
        return r;
      };
      repo.put(record('lv1', { resources: { vcpus: 1, memoryMiB: 64 } }, { driver: 'libvirt' }));
      const a = agent(dataDir, repo, new Map<DriverName, Driver>([['libvirt', lv]]), { importInstance, opts: { importUnknown: true } });
      agents.push(a);
      await waitUntil('the job runs and the domain is imported', () => state('lv1')?.state === 'running' && repo.get(`imported-${name}`) !== undefined, 30_000);
      assert.equal(virsh('domstate', `${prefix}lv1`).stdout.trim(), 'running', 'Shoal\'s domain runs in libvirt');
      const imp = repo.get(`imported-${name}`)!;
      assert.equal(imp.driverRef, name);
      assert.equal(imp.spec.resources.memoryMiB, 32, 'the import carries the domain size');
      const imports = a.events.filter((e) => e.type === 'imported');
      await waitUntil('two more passes', async () => (await a.rec.reconcileOnce()).jobs >= 0 && (await a.rec.reconcileOnce()).jobs >= 0, 10_000);
      assert.equal(a.events.filter((e) => e.type === 'imported').length, imports.length, 'imported once only');
      assert.equal(a.events.filter((e) => e.type === 'adopted' && e.jobId === imp.id).length, 1, 'the imported domain is adopted, not restarted');

      repo.put({ ...state('lv1'), desired: 'deleted' });
      a.rec.kick();
      await waitUntil('deleted', () => state('lv1').reason === 'deleted', 30_000);
      assert.notEqual(virsh('domstate', `${prefix}lv1`).status, 0, 'the domain is undefined');
    });
  });

  describe('process', () => {
    it('stops a job that exceeds its memory limit and reports why', async () => {
      const drivers = new Map<DriverName, Driver>([['process', new ProcessDriver({ ...defaultProcessDriverOptions, dataDir }, { log: null })]]);
      repo.put(
        record('hog', { kind: 'process', restart: 'never', resources: { vcpus: 1, memoryMiB: 64 }, command: [process.execPath, '-e', 'const a=[];for(;;)a.push(Buffer.alloc(1<<20,1))'] }, { driver: 'process' }),
      );
      const a = agent(dataDir, repo, drivers);
      agents.push(a);
      await waitUntil('the hog is stopped', () => state('hog').state === 'failed', 30_000);
      assert.match(state('hog').reason!, /OOM-killed: exceeded its memory limit of 64 MiB/, `reason: ${state('hog').reason}`);
      assert.ok(a.events.some((e) => e.type === 'exited' && /restart policy: never/.test(e.reason!)));
    });

    it('applies the on-failure restart policy with growing back-off, and leaves a clean exit alone', async () => {
      const drivers = new Map<DriverName, Driver>([['process', new ProcessDriver({ ...defaultProcessDriverOptions, dataDir }, { log: null })]]);
      repo.put(record('flaky', { kind: 'process', restart: 'on-failure', command: ['sh', '-c', 'exit 3'] }, { driver: 'process' }));
      repo.put(record('done', { kind: 'process', restart: 'on-failure', command: ['true'] }, { driver: 'process' }));
      const a = agent(dataDir, repo, drivers);
      agents.push(a);
      await waitUntil('three restarts of the failing job', () => a.events.filter((e) => e.type === 'restarted' && e.jobId === 'flaky').length >= 3, 30_000);
      const delays = a.events.filter((e) => e.type === 'restart-scheduled' && e.jobId === 'flaky').map((e) => e.delayMs);
      assert.deepEqual(delays.slice(0, 3), [300, 600, 1_200], 'back-off doubles');
      assert.match(a.events.find((e) => e.type === 'restart-scheduled')!.reason!, /exited with code 3/);
      await waitUntil('the clean job is settled', () => state('done').state === 'stopped', 10_000);
      assert.equal(state('done').reason, 'exited with code 0');
      assert.equal(a.events.filter((e) => e.jobId === 'done' && e.type === 'restarted').length, 0, 'exit 0 is not restarted under on-failure');
    });

    it('meters a job that ran for a measured time within tolerance', async () => {
      const usage = new InMemoryUsageRepository();
      const metering = new Metering(defaultMeteringOptions, { repository: usage, metrics: null });
      const drivers = new Map<DriverName, Driver>([['process', new ProcessDriver({ ...defaultProcessDriverOptions, dataDir }, { log: null })]]);
      repo.put(record('timed', { kind: 'process', restart: 'never', tenant: 'acme', resources: { vcpus: 2, memoryMiB: 128 }, command: ['sleep', '2'] }, { driver: 'process' }));
      const a = agent(dataDir, repo, drivers, { metering });
      agents.push(a);
      await waitUntil('sleep 2 has run and exited', () => state('timed').state === 'stopped', 20_000);
      const [row] = await metering.report({ groupBy: 'tenant', tenant: 'acme' });
      assert.ok(row, 'usage is recorded for the tenant');
      // `sleep 2` runs 2 s; its start comes from /proc and its end from the shim's exit record.
      assert.ok(Math.abs(row.runningSeconds - 2) <= 0.25, `metered ${row.runningSeconds} s for a 2 s job`);
      assert.ok(Math.abs(row.vcpuSeconds - 2 * row.runningSeconds) < 0.01, '2 vCPUs');
      console.log(`    metered ${row.runningSeconds} s for sleep 2`);
    });
  });
});
