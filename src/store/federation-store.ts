import type { Store, Sublevel } from './store.ts';

/**
 * A gateway's burst bindings: idempotency key → the remote cluster its job was sent to.
 * Synced before the job crosses to that cluster, so a retry of the key after a crash, or
 * through a sibling gateway that received a copy, goes to the same cluster, whose placement
 * protocol then answers with the same job.
 */
export interface BurstBinding {
  readonly tenant: string;
  readonly key: string;
  readonly cluster: string;
  readonly boundAtMs: number;
}

export class FederationStore {
  private readonly store: Store;
  private readonly bindings: Sublevel;

  constructor(store: Store) {
    this.store = store;
    this.bindings = store.sublevel('federation-bindings');
  }

  async all(): Promise<BurstBinding[]> {
    const out: BurstBinding[] = [];
    for await (const value of this.bindings.values()) out.push(value as BurstBinding);
    return out;
  }

  async save(binding: BurstBinding): Promise<void> {
    await this.store.writeSynced(`burst binding for key ${binding.key}`, (batch) => batch.put(keyOf(binding.tenant, binding.key), binding, { sublevel: this.bindings }));
  }

  async remove(tenant: string, key: string): Promise<void> {
    await this.store.writeSynced(`removal of burst binding ${key}`, (batch) => batch.del(keyOf(tenant, key), { sublevel: this.bindings }));
  }
}

function keyOf(tenant: string, key: string): string {
  return `${tenant}\u0000${key}`;
}
