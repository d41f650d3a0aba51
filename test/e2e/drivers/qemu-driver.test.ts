import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { isDriverError } from '../../../src/host/driver-errors.ts';
import { QemuDriver, defaultQemuDriverOptions } from '../../../src/host/qemu-driver.ts';
import { QmpClient } from '../../../src/host/qmp-client.ts';
import { killMatching, makeImage, makeTmpDir, pidsMatching, removeDir, requireCommands, vmSpec } from './helpers.ts';

describe('qemu driver (real QEMU)', function () {
  this.timeout(60_000);
  let dataDir: string;
  let driver: QemuDriver;

  before(function () {
    requireCommands(this, 'qemu-system-x86_64', 'qemu-img');
  });

  beforeEach(() => {
    dataDir = makeTmpDir('shoal-q-');
    driver = new QemuDriver({ ...defaultQemuDriverOptions, dataDir }, { log: null });
  });

  afterEach(() => {
    killMatching(dataDir);
    removeDir(dataDir);
  });

  it('probes QEMU and reports the accelerator', async () => {
    const p = await driver.probe({ timeoutMs: 10_000 });
    assert.equal(p.available, true, `qemu should be available here: ${p.reason}`);
    assert.match(String(p.details.qemuVersion), /QEMU emulator version/, 'probe should report the QEMU version');
    const kvm = p.details.kvm as { usable: boolean };
    assert.equal(p.details.accel, kvm.usable ? 'kvm' : 'tcg', 'accel follows /dev/kvm usability');
    console.log(`    accel=${String(p.details.accel)} ${String(p.details.qemuVersion)}`);
  });

  it('runs a firmware-only VM: create, start, running via QMP, stop, destroy, nothing left', async () => {
    const { ref } = await driver.create({ jobId: 'job-fw', name: 'fw', spec: vmSpec({ name: 'fw' }), dataDir });
    assert.equal(await driver.status(ref), 'stopped', 'a created VM is stopped until started');
    await driver.start(ref, { timeoutMs: 30_000 });

    // Ask QEMU directly, not through the driver.
    const qmp = await QmpClient.connect(join(ref, 'qmp.sock'));
    const st = await qmp.execute<{ status: string }>('query-status');
    const greeting = await qmp.greeting();
    qmp.close();
    assert.equal(st.status, 'running', 'QMP query-status should say running');
    assert.ok(greeting.version.qemu.major >= 7, 'greeting carries the QEMU version');
    assert.equal(await driver.status(ref), 'running');
    assert.equal(pidsMatching(ref).length, 1, 'exactly one QEMU for the VM');

    const stats = await driver.stats(ref);
    assert.ok(typeof stats.pid === 'number' && stats.memoryBytes! > 0, `stats should report pid and RSS: ${JSON.stringify(stats)}`);

    // No OS in the guest, so the graceful powerdown is ignored and the forced path must run.
    const t0 = Date.now();
    await driver.stop(ref, { graceMs: 300 });
    assert.ok(Date.now() - t0 >= 300, 'stop should wait the grace period before forcing');
    assert.equal(await driver.status(ref), 'stopped', 'after stop the VM is stopped, not crashed');
    assert.equal(pidsMatching(ref).length, 0, 'no QEMU left after stop');

    await driver.destroy(ref);
    assert.equal(existsSync(ref), false, 'destroy removes the VM directory');
    assert.equal(await driver.status(ref), 'missing');
    assert.deepEqual(await driver.list(), [], 'nothing listed after destroy');
  });

  it('puts the disk on a qcow2 overlay backed by the image', async () => {
    const image = makeImage(dataDir, 'base.qcow2', '32M');
    const { ref } = await driver.create({ jobId: 'job-disk', name: 'disk', spec: vmSpec({ name: 'disk', image }), dataDir });
    const info = JSON.parse(
      (await import('node:child_process')).execFileSync('qemu-img', ['info', '--output=json', '-U', join(ref, 'disk.qcow2')], { encoding: 'utf8' }),
    ) as { format: string; 'backing-filename'?: string; 'backing-filename-format'?: string };
    assert.equal(info.format, 'qcow2', 'overlay is qcow2');
    assert.equal(info['backing-filename'], image, 'overlay is backed by the spec image');
    assert.equal(info['backing-filename-format'], 'qcow2', 'backing format is recorded (-F)');
    await driver.start(ref, { timeoutMs: 30_000 });
    const cmd = readFileSync(`/proc/${pidsMatching(ref)[0]}/cmdline`, 'utf8');
    assert.ok(cmd.includes('disk.qcow2'), 'QEMU runs with the overlay disk');
    await driver.destroy(ref);
    assert.equal(existsSync(ref), false, 'destroy removes the overlay');
    assert.equal(existsSync(image), true, 'destroy never touches the base image');
  });

  it('fails cleanly on a missing image and leaves nothing behind', async () => {
    await assert.rejects(
      driver.create({ jobId: 'job-noimg', name: 'noimg', spec: vmSpec({ name: 'noimg', image: join(dataDir, 'nope.qcow2') }), dataDir }),
      (err: unknown) => isDriverError(err, 'DRIVER_IMAGE_MISSING') && /does not exist/.test(err.message),
      'a missing image must fail with DRIVER_IMAGE_MISSING',
    );
    assert.equal(existsSync(join(dataDir, 'vms', 'job-noimg')), false, 'no VM directory after a failed create');
    assert.equal(pidsMatching(dataDir).length, 0, 'no QEMU after a failed create');
  });

  it('rejects a second create for the same job and a non-vm job', async () => {
    await driver.create({ jobId: 'job-dup', name: 'dup', spec: vmSpec({ name: 'dup' }), dataDir });
    await assert.rejects(driver.create({ jobId: 'job-dup', name: 'dup', spec: vmSpec({ name: 'dup' }), dataDir }), (e: unknown) => isDriverError(e, 'DRIVER_ALREADY_EXISTS'));
    await assert.rejects(
      driver.create({ jobId: 'job-p', name: 'p', spec: { ...vmSpec(), kind: 'process', command: ['true'] }, dataDir }),
      (e: unknown) => isDriverError(e, 'DRIVER_INVALID_JOB'),
    );
  });

  it('a fresh driver adopts a running VM from disk and never starts a second QEMU', async () => {
    const { ref } = await driver.create({ jobId: 'job-adopt', name: 'adopt', spec: vmSpec({ name: 'adopt' }), dataDir });
    await driver.start(ref, { timeoutMs: 30_000 });
    const pidBefore = pidsMatching(ref);
    assert.equal(pidBefore.length, 1);

    const fresh = new QemuDriver({ ...defaultQemuDriverOptions, dataDir }, { log: null });
    const listed = await fresh.list();
    assert.equal(listed.length, 1, 'the fresh driver sees the VM');
    assert.equal(listed[0]!.jobId, 'job-adopt');
    assert.equal(listed[0]!.state, 'running');
    assert.ok(listed[0]!.startedAtMs! <= Date.now(), 'list reports when the QEMU started');
    await fresh.start(ref, { timeoutMs: 30_000 }); // idempotent
    assert.deepEqual(pidsMatching(ref), pidBefore, 'start on a running VM keeps the same single QEMU');
    await fresh.destroy(ref);
  });

  it('reports a QEMU killed from outside as crashed', async () => {
    const { ref } = await driver.create({ jobId: 'job-kill', name: 'kill', spec: vmSpec({ name: 'kill' }), dataDir });
    await driver.start(ref, { timeoutMs: 30_000 });
    const [pid] = pidsMatching(ref);
    process.kill(pid!, 'SIGKILL');
    const deadline = Date.now() + 5_000;
    let st = await driver.status(ref);
    while (st !== 'crashed' && Date.now() < deadline) st = await driver.status(ref);
    assert.equal(st, 'crashed', 'a killed QEMU leaves its pid file and reads as crashed');
    await driver.start(ref, { timeoutMs: 30_000 });
    assert.equal(await driver.status(ref), 'running', 'a crashed VM can be started again');
    await driver.destroy(ref);
  });

  it('lists QEMU processes it did not create when they expose a QMP socket', async () => {
    const { spawnSync } = await import('node:child_process');
    const sock = join(dataDir, 'foreign.sock');
    const r = spawnSync('qemu-system-x86_64', [
      '-name', 'guest=outsider', '-machine', 'q35', '-m', '64', '-smp', '1', '-nodefaults', '-display', 'none', '-nic', 'none',
      '-qmp', `unix:${sock},server=on,wait=off`, '-daemonize',
    ]);
    assert.equal(r.status, 0, `foreign QEMU should start: ${String(r.stderr)}`);
    const found = (await driver.list()).find((i) => i.ref === `qmp:${sock}`);
    assert.ok(found, 'list should include the foreign QEMU');
    assert.equal(found.jobId, undefined, 'a foreign VM has no Shoal job id');
    assert.equal(found.name, 'outsider');
    assert.equal(found.memoryMiB, 64);
    assert.equal(found.state, 'running');
    await assert.rejects(driver.start(found.ref), (e: unknown) => isDriverError(e, 'DRIVER_NOT_FOUND'), 'cannot start a VM it did not create');
    await driver.destroy(found.ref);
    assert.equal(pidsMatching(sock).length, 0, 'destroy stops the foreign QEMU');
    assert.deepEqual(readdirSync(dataDir).filter((f) => f === 'vms'), [], 'no vms dir created for a foreign VM');
  });
});
