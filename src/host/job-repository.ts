import type { Millis } from '../core/clock.ts';
import type { DriverName, JobRecord, JobState } from '../core/job.ts';
import type { Instance } from './driver.ts';

/**
 * The reconciler's narrow view of the job store. The agent implements it on `level`; an
 * in-memory version (in-memory-repositories.ts) serves tests and the simulator.
 *
 * Contract the reconciler relies on:
 *  - `list()` returns every record it should consider (it filters by host itself when given a host id);
 *  - `update()` is durable before it resolves and returns the updated record, or undefined
 *    when the record no longer exists (deleted meanwhile), in which case the reconciler drops it;
 *  - to start a job again after it stopped or failed, the owner sets `desired: 'running'` AND
 *    `state: 'placed'`. With desired `running`, the states `stopped` (the job ended and its
 *    restart policy said to leave it), `failed`, `lost` and `fenced` are left alone.
 */
export interface JobPatch {
  readonly state?: JobState;
  /** null clears it. */
  readonly reason?: string | null;
  /** null clears it (the instance was destroyed). */
  readonly driverRef?: string | null;
}

export interface JobRepository {
  list(): Promise<JobRecord[]>;
  update(id: string, patch: JobPatch): Promise<JobRecord | undefined>;
}

/** An instance in a hypervisor that no record knows: the import callback may turn it into a record. */
export interface ImportCandidate {
  readonly driver: DriverName;
  readonly instance: Instance;
  readonly seenAtMs: Millis;
}

/** Returns the new record, or undefined to leave the instance alone. */
export type ImportCallback = (candidate: ImportCandidate) => Promise<JobRecord | undefined>;
