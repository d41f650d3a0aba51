import assert from 'node:assert/strict';
import type { DriverName } from '../../../src/core/job.ts';
import { defaultHostDriversOptions, openHostDrivers } from '../../../src/host/driver-registry.ts';
import type { DriverMetrics, DriverOp } from '../../../src/host/instrumented-driver.ts';
import { makeTmpDir, removeDir, requireCommands } from './helpers.ts';

describe('openHostDrivers (real probes)', function () {
  this.timeout(30_000);
  let dataDir: string;

  before(function () {
    requireCommands(this, 'qemu-system-x86_64', 'virsh');
  });
  beforeEach(() => {
    dataDir = makeTmpDir('shoal-d-');
  });
  afterEach(() => removeDir(dataDir));

  it('probes the configured drivers, keeps the working ones and says why the others are not', async () => {
    const calls: string[] = [];
    const metrics: DriverMetrics = {
      callsTotal: (d: DriverName, op: DriverOp, outcome: string) => calls.push(`${d}.${op}=${outcome}`),
      callSeconds: () => undefined,
    };
    const { available, probes } = await openHostDrivers(
      ['qemu', 'libvirt', 'process'],
      { ...defaultHostDriversOptions, dataDir, libvirt: { uri: 'qemu:///nonsense' } },
      { log: null, metrics, now: () => Date.now() },
    );
    assert.deepEqual([...available.keys()], ['qemu', 'process'], 'the misconfigured libvirt is left out');
    assert.equal(probes.libvirt?.available, false);
    assert.match(probes.libvirt!.reason!, /qemu:\/\/\/nonsense/, `the reason names the URI: ${probes.libvirt!.reason}`);
    assert.equal(probes.qemu?.available, true);
    assert.ok(['kvm', 'tcg'].includes(String(probes.qemu!.details.accel)));
    assert.ok(calls.includes('qemu.probe=ok') && calls.includes('libvirt.probe=ok'), `probe calls are counted: ${calls.join(' ')}`);
    await available.get('process')!.list();
    assert.ok(calls.includes('process.list=ok'), 'calls through the returned drivers are counted');

    const good = await openHostDrivers(['libvirt'], { ...defaultHostDriversOptions, dataDir }, { log: null, metrics: null, now: () => Date.now() });
    assert.equal(good.probes.libvirt?.available, true, `libvirt at qemu:///system should work here: ${good.probes.libvirt?.reason}`);
  });
});
