import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { isDriverError } from '../../../src/host/driver-errors.ts';
import { LibvirtDriver, defaultLibvirtDriverOptions } from '../../../src/host/libvirt-driver.ts';
import { makeImage, makeTmpDir, removeDir, requireCommands, vmSpec, waitUntil } from './helpers.ts';

const URI = process.env.SHOAL_TEST_LIBVIRT_URI ?? 'qemu:///system';

function virsh(...args: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync('virsh', ['-c', URI, ...args], { encoding: 'utf8', timeout: 30_000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** Every domain whose name starts with `prefix`, destroyed and undefined: cleanup even after a failed test. */
function purgeDomains(prefix: string): void {
  for (const name of virsh('list', '--all', '--name').stdout.split('\n').map((s) => s.trim())) {
    if (!name.startsWith(prefix)) continue;
    virsh('destroy', name);
    virsh('undefine', name);
  }
}

describe('libvirt driver (real libvirtd)', function () {
  this.timeout(90_000);
  // A prefix unique to this run, so tests never touch domains they did not make.
  const prefix = `shoaltest-${process.pid}-`;
  let dataDir: string;
  let driver: LibvirtDriver;

  before(function () {
    requireCommands(this, 'virsh', 'qemu-img');
    const r = virsh('list', '--all');
    if (r.status !== 0) {
      console.log(`    skipped: virsh -c ${URI} does not answer (${r.stderr.trim()}); run scripts/setup-hypervisors.sh`);
      this.skip();
    }
  });

  beforeEach(() => {
    dataDir = makeTmpDir('shoal-lv-');
    driver = new LibvirtDriver({ ...defaultLibvirtDriverOptions, uri: URI, dataDir, domainPrefix: prefix }, { log: null });
  });

  afterEach(() => {
    purgeDomains(prefix);
    removeDir(dataDir);
  });

  it('probes libvirtd', async () => {
    const p = await driver.probe();
    assert.equal(p.available, true, `libvirt should be available: ${p.reason}`);
    assert.match(String(p.details.hypervisor), /libvirt/i, 'probe reports the daemon version');
    console.log(`    domainType=${String(p.details.domainType)}; ${String(p.details.hypervisor)}`);
  });

  it('runs the lifecycle: define with metadata, start, running, stop, destroy, nothing left', async () => {
    const image = makeImage(dataDir);
    const { ref } = await driver.create({ jobId: 'lv1', name: 'web', spec: vmSpec({ name: 'web', image, tenant: 'acme' }), dataDir });
    assert.equal(ref, `${prefix}lv1`);
    const xml = virsh('dumpxml', ref).stdout;
    assert.match(xml, /<shoal:id>lv1<\/shoal:id>/, 'the domain carries the job id in its metadata');
    assert.match(xml, /disk\.qcow2/, 'the domain uses the overlay');
    assert.equal(await driver.status(ref), 'stopped', 'a defined domain is stopped until started');

    await driver.start(ref);
    assert.equal(virsh('domstate', ref).stdout.trim(), 'running', 'virsh sees it running');
    assert.equal(await driver.status(ref), 'running');
    await driver.start(ref); // idempotent
    const listed = (await driver.list()).find((i) => i.ref === ref);
    assert.ok(listed, 'list includes the domain');
    assert.equal(listed.jobId, 'lv1');
    assert.equal(listed.name, 'web', 'the job name is the domain title');
    assert.equal(listed.memoryMiB, 64);
    assert.equal(listed.state, 'running');
    const stats = await driver.stats(ref);
    assert.ok(stats.cpuSeconds! > 0 && stats.memoryBytes! > 0, `stats from domstats: ${JSON.stringify(stats)}`);

    await driver.stop(ref, { graceMs: 300 }); // no guest OS: shutdown is ignored, destroy follows
    assert.equal(virsh('domstate', ref).stdout.trim(), 'shut off');
    assert.equal(await driver.status(ref), 'stopped', 'a domain stopped by Shoal is stopped, not crashed');

    await driver.destroy(ref);
    assert.notEqual(virsh('domstate', ref).status, 0, 'the domain is undefined');
    assert.equal(existsSync(join(dataDir, 'vms', 'lv1')), false, 'the overlay directory is gone');
    assert.equal(existsSync(image), true, 'the base image stays');
    assert.equal(await driver.status(ref), 'missing');
  });

  it('reports a domain whose QEMU was killed as crashed, and starts it again', async () => {
    const { ref } = await driver.create({ jobId: 'lv2', name: 'k', spec: vmSpec({ name: 'k' }), dataDir });
    await driver.start(ref);
    const pid = Number(execFileSync('cat', [`/run/libvirt/qemu/${ref}.pid`], { encoding: 'utf8' }).trim());
    process.kill(pid, 'SIGKILL');
    await waitUntil('libvirt notices the dead QEMU', async () => (await driver.status(ref)) === 'crashed', 10_000);
    await driver.start(ref);
    assert.equal(await driver.status(ref), 'running');
  });

  it('lists a domain created directly with virsh (not by Shoal) as an import candidate', async () => {
    const name = `${prefix}outsider`;
    const xmlPath = join(dataDir, 'outsider.xml');
    writeFileSync(
      xmlPath,
      `<domain type='qemu'><name>${name}</name><memory unit='MiB'>48</memory><vcpu>1</vcpu>` +
        `<os><type arch='x86_64' machine='q35'>hvm</type></os><devices><memballoon model='none'/></devices></domain>`,
    );
    assert.equal(virsh('define', xmlPath).status, 0, 'virsh define works');
    assert.equal(virsh('start', name).status, 0, 'virsh start works');
    const found = (await driver.list()).find((i) => i.ref === name);
    assert.ok(found, 'list returns a domain Shoal did not create');
    assert.equal(found.jobId, undefined, 'no job id: it is not Shoal\'s');
    assert.equal(found.state, 'running');
    assert.equal(found.memoryMiB, 48);
    assert.equal(found.vcpus, 1);
    await driver.destroy(name);
    assert.notEqual(virsh('domstate', name).status, 0, 'destroy undefines the foreign domain');
  });

  it('fails cleanly on a missing image: no domain, no directory', async () => {
    await assert.rejects(
      driver.create({ jobId: 'lv3', name: 'x', spec: vmSpec({ name: 'x', image: join(dataDir, 'missing.qcow2') }), dataDir }),
      (e: unknown) => isDriverError(e, 'DRIVER_IMAGE_MISSING'),
      'a missing image must be DRIVER_IMAGE_MISSING',
    );
    assert.notEqual(virsh('domstate', `${prefix}lv3`).status, 0, 'no domain defined');
    assert.equal(existsSync(join(dataDir, 'vms', 'lv3')), false, 'no directory left');
  });

  it('maps an unreachable libvirt to DRIVER_UNAVAILABLE with libvirt\'s message', async () => {
    const bad = new LibvirtDriver({ ...defaultLibvirtDriverOptions, uri: 'qemu:///bogus', dataDir }, { log: null });
    const p = await bad.probe();
    assert.equal(p.available, false);
    assert.match(String(p.reason), /unreachable.*bogus/, `reason should quote libvirt: ${p.reason}`);
    await assert.rejects(bad.list(), (e: unknown) => isDriverError(e, 'DRIVER_UNAVAILABLE'));
  });

  it('honours the call timeout and the abort signal', async () => {
    await assert.rejects(driver.list({ timeoutMs: 1 }), (e: unknown) => isDriverError(e, 'DRIVER_TIMEOUT'), 'a 1 ms timeout must time out');
    const ac = new AbortController();
    ac.abort();
    await assert.rejects(driver.list({ signal: ac.signal }), (e: unknown) => isDriverError(e, 'DRIVER_ABORTED'), 'an aborted signal must abort');
  });
});
