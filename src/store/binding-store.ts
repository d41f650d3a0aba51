import type { Binding, RegistrySnapshot } from '../placement/index.ts';
import type { Store, Sublevel } from './store.ts';

/**
 * Idempotency bindings this agent holds as a key's owner (key → job, host, epoch). Synced
 * before the owner answers, so a restarted owner still returns the same job for a retry.
 */
export class BindingStore {
  private readonly store: Store;
  private readonly bindings: Sublevel;

  constructor(store: Store) {
    this.store = store;
    this.bindings = store.sublevel('bindings');
  }

  async snapshot(): Promise<RegistrySnapshot> {
    const bindings: Binding[] = [];
    for await (const value of this.bindings.values()) bindings.push(value as Binding);
    return { v: 1, bindings };
  }

  async save(binding: Binding): Promise<void> {
    await this.store.writeSynced(`binding for key ${binding.key}`, (batch) => batch.put(`${binding.tenant}\u0000${binding.key}`, binding, { sublevel: this.bindings }));
  }
}
