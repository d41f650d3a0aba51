import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { DriverName } from '../../../src/core/job.ts';
import type { Driver } from '../../../src/host/driver.ts';
import { InMemoryJobRepository } from '../../../src/host/in-memory-repositories.ts';
import { ProcessDriver, defaultProcessDriverOptions } from '../../../src/host/process-driver.ts';
import { QemuDriver, defaultQemuDriverOptions } from '../../../src/host/qemu-driver.ts';
import { Reconciler, defaultReconcilerOptions, type ReconcilerEvent } from '../../../src/host/reconciler.ts';
import { record } from '../../unit/host/host-fixtures.ts';
import { killMatching, makeTmpDir, pidsMatching, pidsOfCommand, removeDir, requireCommands, waitUntil, wallClock } from './helpers.ts';

/**
 * The process that started an instance dies by SIGKILL (as an agent would); the instance
 * keeps running, and a new owner adopts it from disk alone without starting a second copy.
 * (The full agent-level kill -9 test lives with the agent's e2e tests.)
 */

const driverModule = (name: string): string => fileURLToPath(new URL(`../../../src/host/${name}.ts`, import.meta.url));

/** Starts a node process that creates and starts one job, prints READY, then waits to be killed. */
function owner(dataDir: string, kind: 'qemu' | 'process', marker: string): Promise<{ pid: number }> {
  const script =
    kind === 'qemu'
      ? `import { QemuDriver, defaultQemuDriverOptions } from ${JSON.stringify(driverModule('qemu-driver'))};
         import { JobSpecSchema } from ${JSON.stringify(fileURLToPath(new URL('../../../src/core/job.ts', import.meta.url)))};
         const d = new QemuDriver({ ...defaultQemuDriverOptions, dataDir: ${JSON.stringify(dataDir)} });
         const spec = JobSpecSchema.parse({ name: 'o', kind: 'vm', resources: { vcpus: 1, memoryMiB: 64 } });
         const { ref } = await d.create({ jobId: 'owned', name: 'o', spec, dataDir: ${JSON.stringify(dataDir)} });
         await d.start(ref);`
      : `import { ProcessDriver, defaultProcessDriverOptions } from ${JSON.stringify(driverModule('process-driver'))};
         import { JobSpecSchema } from ${JSON.stringify(fileURLToPath(new URL('../../../src/core/job.ts', import.meta.url)))};
         const d = new ProcessDriver({ ...defaultProcessDriverOptions, dataDir: ${JSON.stringify(dataDir)} });
         const spec = JobSpecSchema.parse({ name: 'o', kind: 'process', resources: { vcpus: 1, memoryMiB: 64 }, command: ['sleep', ${JSON.stringify(marker)}] });
         const { ref } = await d.create({ jobId: 'owned', name: 'o', spec, dataDir: ${JSON.stringify(dataDir)} });
         await d.start(ref);`;
  const child = spawn(process.execPath, ['--input-type=module', '-e', `${script}\nconsole.log('READY');\nsetInterval(() => {}, 1 << 30);`], { stdio: ['ignore', 'pipe', 'pipe'] });
  return new Promise((resolve, reject) => {
    let out = '';
    let err = '';
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`owner did not get ready in 30 s: ${err}`));
    }, 30_000);
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      if (out.includes('READY')) {
        clearTimeout(timer);
        resolve({ pid: child.pid! });
      }
    });
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    child.on('exit', (code) => {
      clearTimeout(timer);
      if (!out.includes('READY')) reject(new Error(`owner exited with ${code}: ${err}`));
    });
  });
}

async function killAndReap(pid: number): Promise<void> {
  process.kill(pid, 'SIGKILL');
  await waitUntil(`owner ${pid} is gone`, () => pidsMatching(`--input-type=module`).every((p) => p !== pid), 5_000);
}

describe('instances outlive a SIGKILLed owner and are adopted from disk', function () {
  this.timeout(60_000);
  let dataDir: string;
  let rec: Reconciler | undefined;

  beforeEach(() => {
    dataDir = makeTmpDir('shoal-o-');
  });
  afterEach(async () => {
    await rec?.stop();
    rec = undefined;
    for (const d of [new ProcessDriver({ ...defaultProcessDriverOptions, dataDir }, { log: null }), new QemuDriver({ ...defaultQemuDriverOptions, dataDir }, { log: null })]) {
      for (const i of await d.list().catch(() => [])) if (i.jobId) await d.destroy(i.ref).catch(() => undefined);
    }
    killMatching(dataDir);
    removeDir(dataDir);
  });

  async function adoptWithReconciler(driver: Driver, name: DriverName): Promise<ReconcilerEvent[]> {
    const repo = new InMemoryJobRepository(() => Date.now());
    repo.put(record('owned', name === 'process' ? { kind: 'process', command: ['sleep', '1'] } : {}, { driver: name, state: 'running' }));
    const events: ReconcilerEvent[] = [];
    rec = new Reconciler(
      { ...defaultReconcilerOptions, intervalMs: 200, dataDir, hostId: 'host-a' },
      { clock: wallClock, repository: repo, drivers: new Map([[name, driver]]), onEvent: (e) => events.push(e), importInstance: null, metering: null, metrics: null, log: null },
    );
    await rec.reconcileOnce();
    await rec.reconcileOnce();
    return events;
  }

  it('qemu: the VM keeps running after its owner is killed; one QEMU after adoption', async function () {
    requireCommands(this, 'qemu-system-x86_64');
    const o = await owner(dataDir, 'qemu', '');
    const vmDir = `${dataDir}/vms/owned`;
    const before = pidsMatching(vmDir);
    assert.equal(before.length, 1, 'one QEMU started by the owner');
    await killAndReap(o.pid);
    assert.deepEqual(pidsMatching(vmDir), before, 'QEMU survives its owner');
    const driver = new QemuDriver({ ...defaultQemuDriverOptions, dataDir }, { log: null });
    const events = await adoptWithReconciler(driver, 'qemu');
    assert.deepEqual(events.map((e) => e.type), ['adopted'], 'adopted, not started');
    assert.deepEqual(pidsMatching(vmDir), before, 'still exactly one QEMU, the same one');
    assert.equal(await driver.status(vmDir), 'running');
  });

  it('process: the job keeps running after its owner is killed; one copy after adoption', async () => {
    const marker = `62.${process.pid}`;
    const o = await owner(dataDir, 'process', marker);
    const before = pidsOfCommand('sleep', marker);
    assert.equal(before.length, 1);
    await killAndReap(o.pid);
    assert.deepEqual(pidsOfCommand('sleep', marker), before, 'the job survives its owner');
    const driver = new ProcessDriver({ ...defaultProcessDriverOptions, dataDir }, { log: null });
    const events = await adoptWithReconciler(driver, 'process');
    assert.deepEqual(events.map((e) => e.type), ['adopted']);
    assert.deepEqual(pidsOfCommand('sleep', marker), before, 'one copy, the same one');
    // The shim, reparented away from the dead owner, still records the exit.
    await driver.stop(`${dataDir}/procs/owned`, { graceMs: 1_000 });
    const exit = await driver.lastExit(`${dataDir}/procs/owned`);
    assert.equal(exit?.requested, true);
    assert.equal(exit?.signal, 'SIGTERM', 'exit status recorded by the orphaned shim');
  });
});
