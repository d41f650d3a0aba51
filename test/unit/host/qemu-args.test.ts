import assert from 'node:assert/strict';
import { writeFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { qemuArgs, vmLayout, type VmManifest } from '../../../src/host/qemu-args.ts';
import { qmpSocketFromArgv } from '../../../src/host/qemu-driver.ts';
import { cgroup1Mounts } from '../../../src/host/process-limits.ts';

const manifest: VmManifest = { version: 1, jobId: 'j1', name: 'web,1', tenant: 't', vcpus: 2, memoryMiB: 256, createdAtMs: 0 };

describe('qemu argv', () => {
  it('builds a headless, network-less, detached VM with QMP and a pid file', () => {
    const l = vmLayout('/data/vms/j1');
    const a = qemuArgs(manifest, l, { machine: 'q35', accel: 'kvm', cpuModel: null });
    const after = (flag: string): string | undefined => a[a.indexOf(flag) + 1];
    assert.equal(after('-accel'), 'kvm');
    assert.equal(after('-m'), '256');
    assert.equal(after('-smp'), '2');
    assert.equal(after('-display'), 'none');
    assert.equal(after('-nic'), 'none', 'no network by default');
    assert.equal(after('-qmp'), 'unix:/data/vms/j1/qmp.sock,server=on,wait=off');
    assert.equal(after('-pidfile'), '/data/vms/j1/qemu.pid');
    assert.equal(after('-name'), 'guest=web,,1,debug-threads=on', 'a comma in the name is doubled');
    assert.ok(a.includes('-daemonize'));
    assert.ok(!a.includes('-drive'), 'no disk without an image');
    assert.ok(!a.includes('-cpu'), 'QEMU default CPU model unless one is configured');
  });

  it('adds the overlay disk and an explicit CPU model', () => {
    const a = qemuArgs({ ...manifest, image: '/img/base.qcow2', imageFormat: 'qcow2' }, vmLayout('/d,x/vms/j1'), { machine: 'pc', accel: 'tcg', cpuModel: 'max' });
    assert.equal(a[a.indexOf('-drive') + 1], 'file=/d,,x/vms/j1/disk.qcow2,format=qcow2,if=virtio', 'the overlay, not the base image; commas escaped');
    assert.equal(a[a.indexOf('-cpu') + 1], 'max');
    assert.equal(a[a.indexOf('-accel') + 1], 'tcg');
  });

  it('finds the QMP socket of a QEMU command line, undoing comma escapes', () => {
    assert.equal(qmpSocketFromArgv(['qemu-system-x86_64', '-qmp', 'unix:/run/a,,b.sock,server=on,wait=off']), '/run/a,b.sock');
    assert.equal(qmpSocketFromArgv(['qemu-system-x86_64', '-qmp', 'tcp:127.0.0.1:4444,server']), undefined, 'only unix sockets');
    assert.equal(qmpSocketFromArgv(['qemu-system-x86_64', '-monitor', 'stdio']), undefined);
  });
});

describe('cgroup v1 mount discovery', () => {
  it('maps each controller to its hierarchy, including combined ones', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'shoal-mi-'));
    try {
      const path = join(dir, 'mountinfo');
      writeFileSync(
        path,
        [
          '31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755',
          '32 31 0:29 / /sys/fs/cgroup/cpu,cpuacct rw,relatime - cgroup cgroup rw,cpu,cpuacct',
          '35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory',
          '41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw',
          '',
        ].join('\n'),
      );
      const m = await cgroup1Mounts(path);
      assert.equal(m.get('memory'), '/sys/fs/cgroup/memory');
      assert.equal(m.get('cpu'), '/sys/fs/cgroup/cpu,cpuacct');
      assert.equal(m.get('cpuacct'), '/sys/fs/cgroup/cpu,cpuacct');
      assert.equal(m.has('unified'), false, 'the cgroup2 mount is not a v1 hierarchy');
      assert.equal(m.has('rw'), false, 'mount flags are not controllers');
      assert.equal((await cgroup1Mounts(join(dir, 'absent'))).size, 0, 'no mountinfo → no hierarchies');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
