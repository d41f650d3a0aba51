import { join } from 'node:path';

/**
 * The files of one Shoal VM under `<dataDir>/vms/<jobId>/`. The directory is the VM's
 * identity: a fresh agent finds, adopts and cleans up VMs from these files alone.
 */
export interface VmLayout {
  readonly dir: string;
  /** VmManifest as JSON, written last by create(): a directory without it is a half-created leftover. */
  readonly manifest: string;
  readonly qmpSocket: string;
  /** Written by QEMU; QEMU removes it on a clean exit, so a leftover one with no process means killed. */
  readonly pidFile: string;
  readonly disk: string;
  readonly console: string;
}

export function vmLayout(dir: string): VmLayout {
  return {
    dir,
    manifest: join(dir, 'vm.json'),
    qmpSocket: join(dir, 'qmp.sock'),
    pidFile: join(dir, 'qemu.pid'),
    disk: join(dir, 'disk.qcow2'),
    console: join(dir, 'console.log'),
  };
}

/** What create() decided, read back by start() and by a fresh agent. */
export interface VmManifest {
  readonly version: 1;
  readonly jobId: string;
  readonly name: string;
  readonly tenant: string;
  readonly vcpus: number;
  readonly memoryMiB: number;
  /** Absolute path of the backing image, when the VM has a disk. */
  readonly image?: string;
  readonly imageFormat?: string;
  readonly createdAtMs: number;
}

export interface QemuArgsOptions {
  readonly machine: string;
  readonly accel: 'kvm' | 'tcg';
  /** `-cpu` model; null keeps QEMU's default model. */
  readonly cpuModel: string | null;
}

/** QEMU option values use ',' as separator; a literal comma is written twice. */
export function escapeOptionValue(value: string): string {
  return value.replaceAll(',', ',,');
}

/**
 * argv for one detached VM: no display, no network, no default devices, QMP on a unix
 * socket, a pid file, the serial console to a file, the qcow2 overlay when there is a disk.
 * Without a disk the firmware finds nothing to boot and idles, which is still a real VM.
 */
export function qemuArgs(m: VmManifest, layout: VmLayout, opts: QemuArgsOptions): string[] {
  const args = [
    '-name',
    `guest=${escapeOptionValue(m.name)},debug-threads=on`,
    '-machine',
    opts.machine,
    '-accel',
    opts.accel,
  ];
  if (opts.cpuModel) args.push('-cpu', opts.cpuModel);
  args.push(
    '-m',
    String(m.memoryMiB),
    '-smp',
    String(m.vcpus),
    '-nodefaults',
    '-no-user-config',
    '-display',
    'none',
    '-nic',
    'none',
    '-qmp',
    `unix:${escapeOptionValue(layout.qmpSocket)},server=on,wait=off`,
    '-pidfile',
    layout.pidFile,
    '-chardev',
    `file,id=serial0,path=${escapeOptionValue(layout.console)}`,
    '-serial',
    'chardev:serial0',
  );
  if (m.image) {
    args.push('-drive', `file=${escapeOptionValue(layout.disk)},format=qcow2,if=virtio`);
  }
  args.push('-daemonize');
  return args;
}
