import type { Millis } from '../core/clock.ts';
import type { PeerIdStr } from '../core/transport.ts';
import type { ReplicaEntry } from '../placement/recovery/index.ts';
import type { Store, Sublevel } from './store.ts';

/**
 * Copies of other hosts' job records that this agent holds as their replica holder, the holder
 * list each owner last pushed, and this host's own drain flag. Every write is one synced batch:
 * a push is acknowledged only once it is on disk, so a replica survives its holder's crash too.
 */

export interface StoredReplicaSet {
  readonly owner: PeerIdStr;
  /** The owner's holders in ring order, as it last pushed them. */
  readonly holders: readonly PeerIdStr[];
  readonly updatedAtMs: Millis;
}

export interface ReplicaWrite {
  readonly sets?: readonly StoredReplicaSet[];
  readonly put?: readonly ReplicaEntry[];
  readonly del?: readonly { owner: PeerIdStr; jobId: string }[];
  /** Owners whose set record goes (their entries are deleted through `del`). */
  readonly dropSets?: readonly PeerIdStr[];
}

export class ReplicaStore {
  private readonly store: Store;
  private readonly entries: Sublevel;
  private readonly sets: Sublevel;
  private readonly meta: Sublevel;

  constructor(store: Store) {
    this.store = store;
    this.entries = store.sublevel('replicas');
    this.sets = store.sublevel('replica-sets');
    this.meta = store.sublevel('recovery');
  }

  static entryKey(owner: PeerIdStr, jobId: string): string {
    return `${owner}\u0000${jobId}`;
  }

  async load(): Promise<{ sets: StoredReplicaSet[]; entries: ReplicaEntry[] }> {
    const sets: StoredReplicaSet[] = [];
    for await (const value of this.sets.values()) sets.push(value as StoredReplicaSet);
    const entries: ReplicaEntry[] = [];
    for await (const value of this.entries.values()) entries.push(value as ReplicaEntry);
    return { sets, entries };
  }

  /** One synced batch: durable before it resolves. */
  async write(w: ReplicaWrite, what: string): Promise<void> {
    await this.store.writeSynced(what, (batch) => {
      for (const s of w.sets ?? []) batch.put(s.owner, s, { sublevel: this.sets });
      for (const owner of w.dropSets ?? []) batch.del(owner, { sublevel: this.sets });
      for (const e of w.put ?? []) batch.put(ReplicaStore.entryKey(e.owner, e.record.id), e, { sublevel: this.entries });
      for (const d of w.del ?? []) batch.del(ReplicaStore.entryKey(d.owner, d.jobId), { sublevel: this.entries });
    });
  }

  /** This host drains (kept across restarts until cancelled). */
  async draining(): Promise<boolean> {
    return ((await this.meta.get('draining')) as boolean | undefined) ?? false;
  }

  async setDraining(draining: boolean): Promise<void> {
    await this.store.writeSynced('drain flag', (batch) => batch.put('draining', draining, { sublevel: this.meta }));
  }
}
