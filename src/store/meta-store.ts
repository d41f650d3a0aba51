import type { Store, Sublevel } from './store.ts';

/** Small facts about this agent that must outlive it, such as its incarnation. */
export class MetaStore {
  private readonly store: Store;
  private readonly meta: Sublevel;

  constructor(store: Store) {
    this.store = store;
    this.meta = store.sublevel('meta');
  }

  /** Every start gets an incarnation above every earlier one, so peers drop the old host's records. */
  async bumpIncarnation(): Promise<number> {
    const previous = ((await this.meta.get('incarnation')) as number | undefined) ?? 0;
    const next = previous + 1;
    await this.raiseIncarnation(next);
    return next;
  }

  /** Persists a refutation's incarnation so a restart starts above it. */
  async raiseIncarnation(incarnation: number): Promise<void> {
    await this.store.writeSynced('incarnation', (batch) => batch.put('incarnation', incarnation, { sublevel: this.meta }));
  }
}
