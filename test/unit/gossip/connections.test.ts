import assert from 'node:assert/strict';
import { hashPrefix } from '../../../src/core/hash.ts';
import { SeededRng } from '../../../src/core/rng.ts';
import { planConnections } from '../../../src/gossip/connections.ts';
import { Membership } from '../../../src/gossip/membership.ts';
import { SummaryStore } from '../../../src/gossip/summary-store.ts';
import { MEMBERSHIP_OPTS, peerInside, record, summary } from './fixtures.ts';

const BITS = 4;
const SELF = 'self';
const OWN_CELL = hashPrefix(SELF, BITS);

/** A store with one summary for every cell but ours, each listing its reporter as contact. */
function world(): { store: SummaryStore; membership: Membership } {
  const store = new SummaryStore(BITS);
  for (let cell = 0; cell < 2 ** BITS; cell++) if (cell !== OWN_CELL) store.put(summary(peerInside(cell, BITS, 'r'), BITS, 1000));
  const membership = new Membership(MEMBERSHIP_OPTS, record(SELF), 0);
  for (let i = 0; i < 6; i++) membership.applyRecord(record(peerInside(OWN_CELL, BITS, `m${i}-`)), 0);
  return { store, membership };
}

function plan(w: ReturnType<typeof world>, remoteKept: ReadonlyMap<string, number>, connected: ReadonlySet<string>, seed: number) {
  return planConnections({
    self: SELF,
    ownCell: OWN_CELL,
    cellBits: BITS,
    monitors: 2,
    cellConnections: 8,
    remoteConnections: 4,
    connected,
    remoteKept,
    membership: w.membership,
    store: w.store,
    rng: new SeededRng(seed),
  });
}

describe('planConnections', () => {
  it('keeps the remote contacts of the last plan while their cells still list them', () => {
    for (let seed = 1; seed <= 20; seed++) {
      const w = world();
      const first = plan(w, new Map(), new Set(), seed);
      assert.equal(first.remote.size, 4, `seed ${seed}: four remote contacts`);
      for (const [peer, slot] of first.remote) assert.equal(hashPrefix(peer, BITS), slot, `seed ${seed}: ${peer} remembered with its cell`);
      // Another rng state, as at a later refresh: drawn afresh, the contacts would differ.
      const second = plan(w, first.remote, new Set(first.want.keys()), seed + 1000);
      assert.deepEqual([...second.remote.keys()].sort(), [...first.remote.keys()].sort(), `seed ${seed}: no new remote link`);
    }
  });

  it('replaces a remote contact its cell no longer lists, and only that one', () => {
    for (let seed = 1; seed <= 20; seed++) {
      const w = world();
      const first = plan(w, new Map(), new Set(), seed);
      const [gone, slot] = [...first.remote][0]!;
      const successor = peerInside(slot, BITS, 'n');
      w.store.put(summary(successor, BITS, 2000)); // a newer summary of that cell, with another contact
      const second = plan(w, first.remote, new Set(first.want.keys()), seed + 1000);
      assert.equal(second.remote.size, 4, `seed ${seed}: still four`);
      assert.ok(!second.remote.has(gone), `seed ${seed}: ${gone} is no longer a contact`);
      const kept = [...first.remote.keys()].filter((p) => second.remote.has(p));
      assert.equal(kept.length, 3, `seed ${seed}: the other three are kept`);
    }
  });

  it('drops a kept contact of the own cell (after a change of layout) and never exceeds the bounds', () => {
    const w = world();
    const stale = new Map([[peerInside(OWN_CELL, BITS, 'r'), OWN_CELL]]);
    const p = plan(w, stale, new Set(), 7);
    assert.ok(!p.remote.has(stale.keys().next().value!), 'a contact in our own cell is not remote');
    assert.ok(p.remote.size <= 4 && p.want.size <= 8 + 4, `bounded: ${p.remote.size} remote, ${p.want.size} in all`);
  });
});
