import { ShoalError } from '../core/errors.ts';
import { JobSpecSchema, type JobSpec } from '../core/job.ts';
import type { ImportCandidate } from './job-repository.ts';

/**
 * The job spec for an imported instance (a libvirt domain or QEMU that Shoal did not
 * create), for the agent's import callback. The spec pins the driver, keeps the size the
 * hypervisor reports, and is not evacuated: its disks live on this host, outside Shoal, so
 * a copy elsewhere would be a different machine.
 */

/** Defaults when the hypervisor does not report a size. */
const UNKNOWN_VCPUS = 1;
const UNKNOWN_MEMORY_MIB = 512;

export function importedJobSpec(c: ImportCandidate, opts: { tenant?: string } = {}): JobSpec {
  if (c.driver === 'process') {
    throw new ShoalError('IMPORT_UNSUPPORTED', `process instances cannot be imported: the process driver only runs jobs Shoal created (${c.instance.ref})`, { ref: c.instance.ref });
  }
  return JobSpecSchema.parse({
    name: jobName(c.instance.name),
    kind: 'vm',
    driver: c.driver,
    resources: { vcpus: c.instance.vcpus ?? UNKNOWN_VCPUS, memoryMiB: c.instance.memoryMiB ?? UNKNOWN_MEMORY_MIB },
    labels: { 'shoal.imported': 'true' },
    evacuate: false,
    ...(opts.tenant ? { tenant: opts.tenant } : {}),
  });
}

/** A hypervisor name made into a valid job name: lowercase, [a-z0-9._-], alphanumeric at both ends, ≤ 63 chars. */
export function jobName(raw: string): string {
  const cleaned = raw
    .toLowerCase()
    .replace(/[^a-z0-9._-]+/g, '-')
    .slice(0, 63)
    .replace(/^[^a-z0-9]+/, '')
    .replace(/[^a-z0-9]+$/, '');
  return cleaned === '' ? 'imported' : cleaned;
}
