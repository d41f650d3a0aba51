import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { FakeDriver } from '../../../src/host/fake-driver.ts';
import { LibvirtDriver, defaultLibvirtDriverOptions } from '../../../src/host/libvirt-driver.ts';
import { ProcessDriver, defaultProcessDriverOptions } from '../../../src/host/process-driver.ts';
import { QemuDriver, defaultQemuDriverOptions } from '../../../src/host/qemu-driver.ts';
import { driverComplianceSuite } from './driver-compliance.ts';
import { hasCommand, killMatching, makeTmpDir, processSpec, removeDir, vmSpec } from './helpers.ts';

let dir: string | undefined;
const prefix = `cmp${process.pid}-`;
const fresh = (p: string): string => (dir = makeTmpDir(p));
const cleanup = (): void => {
  if (dir) killMatching(dir);
  removeDir(dir);
  dir = undefined;
};

driverComplianceSuite(
  'fake',
  () => ({ driver: new FakeDriver(undefined, { now: () => Date.now() }), dataDir: fresh('shoal-cf-'), spec: vmSpec(), unknownRef: 'fake:nothing', jobPrefix: prefix }),
  cleanup,
);

if (hasCommand('qemu-system-x86_64')) {
  driverComplianceSuite(
    'qemu',
    () => {
      const dataDir = fresh('shoal-cq-');
      return { driver: new QemuDriver({ ...defaultQemuDriverOptions, dataDir }, { log: null }), dataDir, spec: vmSpec(), unknownRef: join(dataDir, 'vms', 'nothing'), wrongSpec: processSpec(), jobPrefix: prefix };
    },
    cleanup,
  );
} else {
  console.log('driver compliance: qemu skipped: qemu-system-x86_64 not installed (run scripts/setup-hypervisors.sh)');
}

if (hasCommand('virsh') && spawnSync('virsh', ['-c', 'qemu:///system', 'list']).status === 0) {
  const lvPrefix = `shoalcmp-${process.pid}-`;
  driverComplianceSuite(
    'libvirt',
    () => {
      const dataDir = fresh('shoal-cl-');
      return {
        driver: new LibvirtDriver({ ...defaultLibvirtDriverOptions, dataDir, domainPrefix: lvPrefix }, { log: null }),
        dataDir,
        spec: vmSpec(),
        unknownRef: `${lvPrefix}nothing`,
        wrongSpec: processSpec(),
        jobPrefix: prefix,
      };
    },
    () => {
      for (const n of spawnSync('virsh', ['-c', 'qemu:///system', 'list', '--all', '--name'], { encoding: 'utf8' }).stdout.split('\n')) {
        if (!n.trim().startsWith(lvPrefix)) continue;
        spawnSync('virsh', ['-c', 'qemu:///system', 'destroy', n.trim()]);
        spawnSync('virsh', ['-c', 'qemu:///system', 'undefine', n.trim()]);
      }
      cleanup();
    },
  );
} else {
  console.log('driver compliance: libvirt skipped: libvirtd does not answer at qemu:///system (run scripts/setup-hypervisors.sh)');
}

driverComplianceSuite(
  'process',
  () => {
    const dataDir = fresh('shoal-cp-');
    return { driver: new ProcessDriver({ ...defaultProcessDriverOptions, dataDir }, { log: null }), dataDir, spec: processSpec({ command: ['sleep', '300'] }), unknownRef: join(dataDir, 'procs', 'nothing'), wrongSpec: vmSpec(), jobPrefix: prefix };
  },
  cleanup,
);
