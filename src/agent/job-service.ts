import { z } from 'zod';
import type { Clock } from '../core/clock.ts';
import { ShoalError } from '../core/errors.ts';
import { JobSpecSchema, newJobId, type JobRecord, type JobSpec } from '../core/job.ts';
import type { Rng } from '../core/rng.ts';
import type { JobMetrics } from '../metrics/registry.ts';

/**
 * The API's view of jobs. It validates specs, gives every request an idempotency key, and
 * hands placement and lookups to the parts of the agent that own them.
 */

export interface PlacementOutcome {
  readonly job: JobRecord;
  /** False when the idempotency key matched an existing job with the same spec. */
  readonly created: boolean;
}

/** Places a validated spec somewhere in the cluster; throws JOB_UNPLACEABLE, JOB_IDEMPOTENCY_CONFLICT, JOB_PLACEMENT_FAILED. */
export interface Placer {
  place(spec: JobSpec, opts?: { signal?: AbortSignal }): Promise<PlacementOutcome>;
}

/**
 * A listing and what it lacks: hosts (peer ids) that did not answer or were not asked, and
 * cells (`cell N`) whose contact did not answer. A job missing from an incomplete listing may
 * still run; callers must not read its absence as gone.
 */
export interface JobListing {
  readonly jobs: JobRecord[];
  readonly missing: string[];
}

/** Finds and changes jobs wherever they live. */
export interface JobDirectory {
  get(id: string, opts?: { signal?: AbortSignal }): Promise<JobRecord | undefined>;
  list(opts?: { cluster?: boolean; signal?: AbortSignal }): Promise<JobListing>;
  /** Desired state `deleted`: the owner stops the job and releases its capacity. */
  stop(id: string, opts?: { signal?: AbortSignal }): Promise<JobRecord | undefined>;
}

export class JobService {
  private readonly placer: Placer;
  private readonly directory: JobDirectory;
  private readonly clock: Clock;
  private readonly rng: Rng;
  private readonly metrics: JobMetrics | null;

  constructor(modules: { placer: Placer; directory: JobDirectory; clock: Clock; rng: Rng; metrics: JobMetrics | null }) {
    this.placer = modules.placer;
    this.directory = modules.directory;
    this.clock = modules.clock;
    this.rng = modules.rng;
    this.metrics = modules.metrics;
  }

  async submit(body: unknown, opts: { signal?: AbortSignal } = {}): Promise<PlacementOutcome> {
    const spec = parseJobSpec(body);
    // Retries inside the cluster stay idempotent even when the caller gave no key.
    const keyed: JobSpec = spec.idempotencyKey ? spec : { ...spec, idempotencyKey: `auto-${newJobId(this.clock.now(), this.rng)}` };
    try {
      const outcome = await this.placer.place(keyed, opts);
      this.metrics?.submissions.inc({ outcome: outcome.created ? 'created' : 'duplicate' });
      return outcome;
    } catch (err) {
      this.metrics?.submissions.inc({ outcome: outcomeOf(err) });
      throw err;
    }
  }

  get(id: string, opts?: { signal?: AbortSignal }): Promise<JobRecord | undefined> {
    return this.directory.get(id, opts);
  }

  list(opts?: { cluster?: boolean; signal?: AbortSignal }): Promise<JobListing> {
    return this.directory.list(opts);
  }

  stop(id: string, opts?: { signal?: AbortSignal }): Promise<JobRecord | undefined> {
    return this.directory.stop(id, opts);
  }
}

function outcomeOf(err: unknown): string {
  if (!(err instanceof ShoalError)) return 'error';
  switch (err.code) {
    case 'JOB_INVALID_SPEC':
      return 'invalid';
    case 'JOB_IDEMPOTENCY_CONFLICT':
      return 'conflict';
    case 'JOB_UNPLACEABLE':
      return 'unplaceable';
    default:
      return 'error';
  }
}

/** Validates a spec; the error lists every field path, e.g. "resources.vcpus: Too small: expected number to be >0". */
export function parseJobSpec(body: unknown): JobSpec {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw new ShoalError('JOB_INVALID_SPEC', 'invalid job spec: expected a JSON object', { issues: [{ path: '', message: 'expected a JSON object' }] });
  }
  const result = JobSpecSchema.safeParse(body);
  if (result.success) return result.data;
  const issues = result.error.issues.map((issue) => describeIssue(issue));
  throw new ShoalError('JOB_INVALID_SPEC', `invalid job spec: ${issues.map((i) => (i.path ? `${i.path}: ${i.message}` : i.message)).join('; ')}`, { issues });
}

function describeIssue(issue: z.core.$ZodIssue): { path: string; message: string } {
  const path = issue.path.map(String).join('.');
  if (issue.code === 'unrecognized_keys') {
    return { path, message: `unknown field${issue.keys.length > 1 ? 's' : ''} ${issue.keys.map((k) => `"${k}"`).join(', ')}` };
  }
  if (issue.code === 'invalid_type' && issue.message.includes('received undefined')) {
    return { path, message: 'required' };
  }
  return { path, message: issue.message };
}
