import type { JobRecord, JobState } from '../../core/job.ts';
import type { Millis } from '../../core/clock.ts';
import type { PeerIdStr } from '../../core/transport.ts';

/**
 * What a replica holder keeps per job of another host, and the rules that merge an owner's
 * pushes with what evacuators learned. Pure: the agent persists entries in level
 * (`src/store/replica-store.ts`), the simulator keeps them in memory.
 */

/** What became of a job after its host failed, as an evacuator recorded it. */
export interface ReplicaOutcome {
  /** `replaced`: running again on `host` at `epoch`. `lost`: not re-placed (`evacuate: false`, or no key to re-place it by). */
  readonly type: 'replaced' | 'lost';
  readonly host: PeerIdStr | null;
  /** Replaced: the new epoch. Lost: the epoch of the copy that was lost. */
  readonly epoch: number;
  readonly reason: string;
  readonly atMs: Millis;
  /** The evacuator that decided it. */
  readonly by: PeerIdStr;
}

export interface ReplicaEntry {
  readonly owner: PeerIdStr;
  readonly record: JobRecord;
  readonly outcome: ReplicaOutcome | null;
}

/** Told to an owner pushing a copy that was replaced meanwhile: stop it. */
export interface FenceNotice {
  readonly jobId: string;
  readonly host: PeerIdStr;
  readonly epoch: number;
}

/** States in which a copy is not running and will not run again without a new placement. */
const ENDED: ReadonlySet<JobState> = new Set<JobState>(['stopped', 'fenced', 'lost']);

/** Records an owner replicates: the jobs it owns that are meant to exist. Fenced and deleted ones are dropped. */
export function isReplicated(record: JobRecord, owner: PeerIdStr): boolean {
  return record.host === owner && record.desired !== 'deleted' && record.state !== 'fenced';
}

/** The record asks for a running job: re-place it if its host fails. */
export function wantsRunning(record: JobRecord): boolean {
  return record.desired === 'running' && !ENDED.has(record.state);
}

/**
 * An owner pushed `incoming`. A `replaced` outcome newer than the pushed copy survives and the
 * owner is told to fence; a `lost` outcome is cleared by any push at its epoch or later (the
 * owner is back and runs the job again).
 */
export function mergePushed(existing: ReplicaEntry | undefined, owner: PeerIdStr, incoming: JobRecord): { entry: ReplicaEntry; fence: FenceNotice | null } {
  const outcome = existing?.outcome ?? null;
  if (outcome !== null && outcome.type === 'replaced' && outcome.host !== null && outcome.epoch > incoming.epoch) {
    return { entry: { owner, record: incoming, outcome }, fence: { jobId: incoming.id, host: outcome.host, epoch: outcome.epoch } };
  }
  return { entry: { owner, record: incoming, outcome: null }, fence: null };
}

/** An evacuator's outcome; an older one never replaces a newer one. */
export function withOutcome(entry: ReplicaEntry, outcome: ReplicaOutcome): ReplicaEntry {
  const prev = entry.outcome;
  if (prev !== null) {
    if (prev.type === 'replaced' && outcome.type === 'lost') return entry;
    if (prev.type === outcome.type && prev.epoch > outcome.epoch) return entry;
  }
  return { ...entry, outcome };
}

/** The record as a lookup should show it: a lost job says so, a replaced copy shows as fenced. */
export function visibleRecord(entry: ReplicaEntry): JobRecord {
  const o = entry.outcome;
  if (o === null) return entry.record;
  if (o.type === 'lost') return { ...entry.record, state: 'lost', reason: o.reason, updatedAtMs: o.atMs };
  return { ...entry.record, state: 'fenced', reason: o.reason, updatedAtMs: o.atMs };
}
