import type { Clock } from '../../core/clock.ts';
import type { JobRecord } from '../../core/job.ts';
import type { PeerIdStr } from '../../core/transport.ts';
import { keyHashOfJobId } from '../../placement/key-ownership.ts';
import {
  mergePushed,
  visibleRecord,
  wantsRunning,
  withOutcome,
  type FenceNotice,
  type ReplicaEntry,
  type ReplicaJob,
  type ReplicaOutcome,
  type ReplicaSource,
} from '../../placement/recovery/index.ts';
import type { ReplicaStore } from '../../store/replica-store.ts';
import { Mutex } from '../mutex.ts';
import { JobRecordSchema } from './protocol.ts';

/**
 * The replicas this agent holds for other hosts: an in-memory mirror of the replica store,
 * changed only through synced writes (a push is acknowledged after its write). It is the
 * `ReplicaSource` the evacuator reads.
 */

interface OwnerReplicas {
  holders: readonly PeerIdStr[];
  readonly entries: Map<string, ReplicaEntry>;
}

export interface PushBody {
  readonly holders: readonly PeerIdStr[];
  readonly records: readonly JobRecord[];
  readonly removed: readonly string[];
  readonly ids?: readonly string[];
}

export class ReplicaHolder implements ReplicaSource {
  private readonly store: ReplicaStore;
  private readonly clock: Clock;
  private readonly byOwner = new Map<PeerIdStr, OwnerReplicas>();
  private readonly writes = new Mutex();

  constructor(modules: { store: ReplicaStore; clock: Clock }) {
    this.store = modules.store;
    this.clock = modules.clock;
  }

  /** Loads what the store holds; an entry that does not parse is skipped (and reported), never fatal. */
  async load(): Promise<{ skipped: number }> {
    const { sets, entries } = await this.store.load();
    let skipped = 0;
    for (const s of sets) {
      if (typeof s?.owner !== 'string' || !Array.isArray(s.holders)) {
        skipped++;
        continue;
      }
      this.byOwner.set(s.owner, { holders: s.holders, entries: new Map() });
    }
    for (const e of entries) {
      if (typeof e?.owner !== 'string' || !JobRecordSchema.safeParse(e.record).success) {
        skipped++;
        continue;
      }
      let o = this.byOwner.get(e.owner);
      if (o === undefined) {
        o = { holders: [], entries: new Map() };
        this.byOwner.set(e.owner, o);
      }
      o.entries.set(e.record.id, e);
    }
    return { skipped };
  }

  /** Entries held, over all owners. */
  get size(): number {
    let n = 0;
    for (const o of this.byOwner.values()) n += o.entries.size;
    return n;
  }

  // ── ReplicaSource ────────────────────────────────────────────────────────────────────────

  owners(): Iterable<PeerIdStr> {
    return this.byOwner.keys();
  }

  holdersOf(owner: PeerIdStr): readonly PeerIdStr[] {
    return this.byOwner.get(owner)?.holders ?? [];
  }

  *jobsOf(owner: PeerIdStr): Iterable<ReplicaJob> {
    const o = this.byOwner.get(owner);
    if (o === undefined) return;
    for (const e of o.entries.values()) {
      const r = e.record;
      yield {
        jobId: r.id,
        epoch: r.epoch,
        evacuate: r.spec.evacuate,
        replaceable: r.spec.idempotencyKey !== undefined && keyHashOfJobId(r.id) !== null,
        wantsRunning: wantsRunning(r),
        settled: e.outcome !== null,
      };
    }
  }

  entry(owner: PeerIdStr, jobId: string): ReplicaEntry | undefined {
    return this.byOwner.get(owner)?.entries.get(jobId);
  }

  /** The record as a lookup shows it (a lost job says lost). */
  lookup(owner: PeerIdStr, jobId: string): JobRecord | null {
    const e = this.entry(owner, jobId);
    return e === undefined ? null : visibleRecord(e);
  }

  /** Re-placement outcomes recorded for `owner`'s jobs. */
  replacedOutcomes(owner: PeerIdStr): { jobId: string; outcome: ReplicaOutcome }[] {
    const out: { jobId: string; outcome: ReplicaOutcome }[] = [];
    for (const e of this.byOwner.get(owner)?.entries.values() ?? []) {
      if (e.outcome !== null && e.outcome.type === 'replaced') out.push({ jobId: e.record.id, outcome: e.outcome });
    }
    return out;
  }

  // ── changes (each durable before it resolves) ────────────────────────────────────────────

  /** An owner's push. Returns the notices for copies that were replaced while it was away. */
  applyPush(owner: PeerIdStr, body: PushBody): Promise<FenceNotice[]> {
    return this.writes.run(async () => {
      const current = this.byOwner.get(owner);
      const entries = new Map(current?.entries ?? []);
      const put: ReplicaEntry[] = [];
      const del: { owner: PeerIdStr; jobId: string }[] = [];
      const fence: FenceNotice[] = [];
      for (const r of body.records) {
        const merged = mergePushed(entries.get(r.id), owner, r);
        entries.set(r.id, merged.entry);
        put.push(merged.entry);
        if (merged.fence !== null) fence.push(merged.fence);
      }
      const drop = (jobId: string): void => {
        if (!entries.has(jobId)) return;
        entries.delete(jobId);
        del.push({ owner, jobId });
      };
      for (const id of body.removed) drop(id);
      if (body.ids !== undefined) {
        const keep = new Set(body.ids);
        for (const id of [...entries.keys()]) if (!keep.has(id)) drop(id);
      }
      const set = { owner, holders: [...body.holders], updatedAtMs: this.clock.now() };
      await this.store.write({ sets: [set], put, del }, `replicas of ${owner}`);
      this.byOwner.set(owner, { holders: set.holders, entries });
      return fence;
    });
  }

  /** The owner dropped this holder: its replicas go. */
  forget(owner: PeerIdStr): Promise<void> {
    return this.writes.run(async () => {
      const o = this.byOwner.get(owner);
      if (o === undefined) return;
      await this.store.write({ dropSets: [owner], del: [...o.entries.keys()].map((jobId) => ({ owner, jobId })) }, `forgetting replicas of ${owner}`);
      this.byOwner.delete(owner);
    });
  }

  /** An evacuator's outcomes for a failed owner's jobs (jobs this holder does not hold are skipped). */
  recordOutcomes(owner: PeerIdStr, outcomes: readonly { jobId: string; outcome: ReplicaOutcome }[]): Promise<void> {
    return this.writes.run(async () => {
      const o = this.byOwner.get(owner);
      if (o === undefined) return;
      const put: ReplicaEntry[] = [];
      for (const { jobId, outcome } of outcomes) {
        const e = o.entries.get(jobId);
        if (e === undefined) continue;
        const next = withOutcome(e, outcome);
        if (next !== e) put.push(next);
      }
      if (put.length === 0) return;
      await this.store.write({ put }, `outcomes for ${owner}`);
      for (const e of put) o.entries.set(e.record.id, e);
    });
  }
}
