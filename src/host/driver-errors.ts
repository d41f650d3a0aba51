import { ShoalError } from '../core/errors.ts';

/**
 * The driver error catalogue. Every driver failure is one of these codes; `details` carries
 * the hypervisor's own words (`stderr`, QMP `desc`, virsh's message) so the job record can
 * show why, and `message` is a sentence a user can act on.
 */
export const DRIVER_ERROR_CODES = [
  /** The driver cannot run here (binary missing, /dev/kvm unusable, libvirtd down). */
  'DRIVER_UNAVAILABLE',
  /** The job spec cannot be run by this driver (no command, bad field). */
  'DRIVER_INVALID_JOB',
  /** The spec's disk image does not exist or is not readable. */
  'DRIVER_IMAGE_MISSING',
  /** No instance behind this ref. */
  'DRIVER_NOT_FOUND',
  /** An instance for this job already exists. */
  'DRIVER_ALREADY_EXISTS',
  /** The operation does not apply to this instance (e.g. starting a VM Shoal did not create). */
  'DRIVER_UNSUPPORTED',
  /** An external command (qemu-img, virsh, systemd-run…) failed. */
  'DRIVER_COMMAND_FAILED',
  /** The hypervisor started but the instance died or refused to start. */
  'DRIVER_START_FAILED',
  /** QMP answered with an error. */
  'DRIVER_QMP_ERROR',
  /** The QMP socket could not be reached or closed mid-command. */
  'DRIVER_QMP_UNREACHABLE',
  /** The instance did not stop, even when forced. */
  'DRIVER_STOP_FAILED',
  /** The call ran past its `timeoutMs`. */
  'DRIVER_TIMEOUT',
  /** The caller's AbortSignal fired. */
  'DRIVER_ABORTED',
  /** Local I/O in the driver's own directory failed. */
  'DRIVER_IO_FAILED',
] as const;

export type DriverErrorCode = (typeof DRIVER_ERROR_CODES)[number];

export class DriverError extends ShoalError<DriverErrorCode> {
  constructor(code: DriverErrorCode, message: string, details: Record<string, unknown> = {}, cause?: unknown) {
    super(code, message, details, cause === undefined ? undefined : { cause });
    this.name = 'DriverError';
  }
}

export function isDriverError(err: unknown, code?: DriverErrorCode): err is DriverError {
  return err instanceof DriverError && (code === undefined || err.code === code);
}
