import type { JobRecord, JobSpec } from '../core/job.ts';

/**
 * A job placed for another cluster carries that cluster's name in this label. The receiving
 * gateway sets it (whatever the sender wrote there), so quota counts and "who may stop this
 * job" rest on the job's own record in this cluster, which every gateway can list.
 */
export const ORIGIN_LABEL = 'shoal.federation/origin';

/** The spec as this cluster places it: the origin label overwritten with the sender's real cluster. */
export function tagOrigin(spec: JobSpec, origin: string): JobSpec {
  return { ...spec, labels: { ...spec.labels, [ORIGIN_LABEL]: origin } };
}

/** The cluster a job was placed for, or undefined for a job of this cluster. */
export function originOf(job: Pick<JobRecord, 'spec'>): string | undefined {
  const labels = job.spec.labels;
  return Object.hasOwn(labels, ORIGIN_LABEL) ? labels[ORIGIN_LABEL] : undefined;
}
