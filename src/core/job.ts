import { z } from 'zod';
import type { Millis } from './clock.ts';
import type { Rng } from './rng.ts';
import type { PeerIdStr } from './transport.ts';

/**
 * The job spec, as a caller submits it (`POST /v1/jobs`, `shoal submit`). One schema serves
 * the API, the store, placement and the drivers. Objects are strict: an unknown key is an
 * error, not silently dropped.
 */

const name = z
  .string()
  .min(1)
  .max(63)
  .regex(/^[a-z0-9]([a-z0-9._-]*[a-z0-9])?$/, 'must be lowercase letters, digits, ".", "_" or "-", starting and ending with a letter or digit');

const labelKey = z.string().min(1).max(63).regex(/^[A-Za-z0-9]([A-Za-z0-9._/-]*[A-Za-z0-9])?$/, 'must be a label key like "energy" or "rack.id"');
const labelValue = z.string().max(128);
export const LabelsSchema = z.record(labelKey, labelValue);

export const ResourcesSchema = z.strictObject({
  vcpus: z.number().int().positive().max(1024),
  memoryMiB: z.number().int().positive().max(16 * 1024 * 1024),
  diskGiB: z.number().int().nonnegative().max(1024 * 1024).default(0),
});

export const JOB_KINDS = ['vm', 'process'] as const;
export const DRIVER_NAMES = ['qemu', 'libvirt', 'process', 'fake'] as const;
export type DriverName = (typeof DRIVER_NAMES)[number];

export const PreferenceSchema = z.strictObject({
  /** Host label to score on, e.g. `energy` or `price`. */
  label: labelKey,
  /** With a value: hosts whose label equals it gain `weight`. Without: the label's numeric value times `weight` (use a negative weight for `price`). */
  value: labelValue.optional(),
  weight: z.number().min(-100).max(100),
});

export const JobSpecSchema = z
  .strictObject({
    name,
    kind: z.enum(JOB_KINDS),
    resources: ResourcesSchema,
    /** Disk image for a VM (local path); a VM without one boots into firmware and idles. */
    image: z.string().min(1).max(4096).optional(),
    /** argv for a process job. */
    command: z.array(z.string().max(4096)).min(1).max(256).optional(),
    /** Pin a driver; otherwise the host picks one that runs this kind. */
    driver: z.enum(DRIVER_NAMES).optional(),
    labels: LabelsSchema.default({}),
    constraints: z
      .strictObject({
        zone: z.string().min(1).max(63).optional(),
        hostLabels: LabelsSchema.default({}),
        /** Federation: run in this cluster (see the federation docs). */
        cluster: z.string().min(1).max(63).optional(),
        region: z.string().min(1).max(63).optional(),
      })
      .default({ hostLabels: {} }),
    preferences: z.array(PreferenceSchema).max(16).default([]),
    antiAffinityGroup: z.string().min(1).max(128).optional(),
    policy: z.enum(['binpack', 'spread']).default('binpack'),
    /** Same key, same spec: one job, however many times and through however many agents it is sent. */
    idempotencyKey: z.string().min(1).max(128).optional(),
    tenant: z.string().min(1).max(63).default('default'),
    /** Re-place this job when its host fails (otherwise it is reported failed). */
    evacuate: z.boolean().default(true),
    /** Process jobs: what to do when the process exits. */
    restart: z.enum(['always', 'on-failure', 'never']).default('on-failure'),
  })
  .superRefine((spec, ctx) => {
    if (spec.kind === 'process' && !spec.command) {
      ctx.addIssue({ code: 'custom', path: ['command'], message: 'a process job needs a command' });
    }
    if (spec.kind === 'vm' && spec.command) {
      ctx.addIssue({ code: 'custom', path: ['command'], message: 'a vm job takes an image, not a command' });
    }
    if (spec.kind === 'process' && spec.image) {
      ctx.addIssue({ code: 'custom', path: ['image'], message: 'a process job takes a command, not an image' });
    }
    if (spec.driver && !driverRunsKind(spec.driver, spec.kind)) {
      ctx.addIssue({ code: 'custom', path: ['driver'], message: `driver ${spec.driver} cannot run a ${spec.kind} job` });
    }
  });

export type JobSpec = z.output<typeof JobSpecSchema>;
export type JobSpecInput = z.input<typeof JobSpecSchema>;
export type JobKind = JobSpec['kind'];

export function driverRunsKind(driver: DriverName, kind: JobKind): boolean {
  if (driver === 'fake') return true;
  return kind === 'vm' ? driver === 'qemu' || driver === 'libvirt' : driver === 'process';
}

/** What the job's owner wants; the reconcile loop drives `state` toward it. */
export type DesiredState = 'running' | 'stopped' | 'deleted';

/**
 * Observed state. `placed`: admitted and capacity reserved, not yet started. `lost`: its host
 * failed and it could not be re-placed. `fenced`: a stale copy stopped because the job was
 * re-placed elsewhere with a higher epoch.
 */
export const JOB_STATES = ['placed', 'starting', 'running', 'stopping', 'stopped', 'failed', 'lost', 'fenced'] as const;
export type JobState = (typeof JOB_STATES)[number];

export interface JobRecord {
  readonly id: string;
  readonly spec: JobSpec;
  /** Digest of the canonical spec: the idempotency check compares it. */
  readonly specDigest: string;
  /** The host that owns and runs the job. */
  readonly host: PeerIdStr;
  readonly driver: DriverName;
  readonly desired: DesiredState;
  readonly state: JobState;
  /** Bumped each time the job is re-placed; a host running an older epoch stops its copy. */
  readonly epoch: number;
  /** Why the job is in its state (driver message, placement reason). */
  readonly reason?: string;
  /** Driver-specific handle: a QMP socket path, a libvirt domain name, a pid. */
  readonly driverRef?: string;
  readonly createdAtMs: Millis;
  readonly updatedAtMs: Millis;
}

/**
 * The copies worth listing when records of one job are gathered from several hosts. A job
 * re-placed elsewhere leaves a copy on its old host, fenced at a lower epoch (or about to be,
 * once that host next checks): keep the copies at the job's highest epoch, and among those
 * the ones not fenced, unless all are. Two live copies at one epoch are both kept: that is a
 * duplicate, and a listing must not hide it.
 */
export function currentCopies(records: Iterable<JobRecord>): JobRecord[] {
  const byId = new Map<string, JobRecord[]>();
  for (const r of records) {
    const list = byId.get(r.id);
    if (list === undefined) byId.set(r.id, [r]);
    else list.push(r);
  }
  const out: JobRecord[] = [];
  for (const copies of byId.values()) {
    let top = -Infinity;
    for (const c of copies) if (c.epoch > top) top = c.epoch;
    const latest = copies.filter((c) => c.epoch === top);
    const live = latest.filter((c) => c.state !== 'fenced');
    out.push(...(live.length > 0 ? live : latest.slice(0, 1)));
  }
  return out;
}

const CROCKFORD = '0123456789abcdefghjkmnpqrstvwxyz';

/** Time-ordered id: 10 chars of milliseconds, then 10 random chars (a ULID, lowercase). */
export function newJobId(nowMs: Millis, rng: Rng): string {
  let time = '';
  let t = Math.max(0, Math.floor(nowMs));
  for (let i = 0; i < 10; i++) {
    time = CROCKFORD[t % 32] + time;
    t = Math.floor(t / 32);
  }
  let rand = '';
  for (let i = 0; i < 10; i++) rand += CROCKFORD[rng.int(32)];
  return time + rand;
}

/** Key order-independent JSON, so equal specs give equal digests whatever order the caller wrote fields in. */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
  }
  return JSON.stringify(value);
}
