import { constants } from 'node:fs';
import { access, stat } from 'node:fs/promises';
import { resolve } from 'node:path';
import type { CallScope } from './call-scope.ts';
import { DriverError, isDriverError } from './driver-errors.ts';
import { runCommand } from './exec.ts';

/**
 * Disk images for VM jobs: the spec names a base image, each VM gets a qcow2 overlay on it,
 * so the base is never written and a destroyed VM's changes vanish with its overlay.
 */

export interface ImageInfo {
  readonly path: string;
  readonly format: string;
  readonly virtualSizeBytes: number;
}

/** Checks the image exists, is readable and is something qemu-img understands. */
export async function inspectImage(qemuImg: string, image: string, scope: CallScope): Promise<ImageInfo> {
  const path = resolve(image);
  try {
    await access(path, constants.R_OK);
    if (!(await stat(path)).isFile()) throw Object.assign(new Error('not a regular file'), { code: 'ENOTFILE' });
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new DriverError('DRIVER_IMAGE_MISSING', `image ${path} ${code === 'ENOENT' ? 'does not exist' : `is not readable (${code})`}`, { image: path, errno: code });
  }
  try {
    // -U: the image may be in use as a backing file by running VMs, which hold a shared lock.
    const { stdout } = await runCommand(qemuImg, ['info', '-U', '--output=json', path], scope);
    const info = JSON.parse(stdout) as { format?: string; 'virtual-size'?: number };
    if (!info.format) throw new Error('qemu-img reported no format');
    return { path, format: info.format, virtualSizeBytes: info['virtual-size'] ?? 0 };
  } catch (err) {
    if (isDriverError(err, 'DRIVER_TIMEOUT') || isDriverError(err, 'DRIVER_ABORTED') || isDriverError(err, 'DRIVER_UNAVAILABLE')) throw err;
    throw new DriverError('DRIVER_IMAGE_MISSING', `image ${path} is not a disk image qemu-img can read: ${(err as Error).message}`, { image: path }, err);
  }
}

/** Creates `overlay` backed by `base`, grown to `diskGiB` when the spec asks for more than the image holds. */
export async function createOverlay(qemuImg: string, base: ImageInfo, overlay: string, diskGiB: number, scope: CallScope): Promise<void> {
  const args = ['create', '-q', '-f', 'qcow2', '-F', base.format, '-b', base.path, overlay];
  if (diskGiB * 1024 ** 3 > base.virtualSizeBytes) args.push(`${diskGiB}G`);
  await runCommand(qemuImg, args, scope);
}
