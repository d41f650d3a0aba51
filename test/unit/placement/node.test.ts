import assert from 'node:assert/strict';
import { keyHashOf, rendezvousOwner, type Binding, type BindingPersistence, type SubmitOutcome } from '../../../src/placement/index.ts';
import type { Millis } from '../../../src/core/clock.ts';
import { PlacementHarness } from './cluster-harness.ts';
import { spec } from './fixtures.ts';

function ownerOf(h: PlacementHarness, key: string): string {
  return rendezvousOwner(keyHashOf('default', key), h.hosts[0]!.view.cellMembers(), null)!;
}

describe('placement node edge cases', () => {
  it('releases an admission that answers after its ask timed out, and keeps the one it bound', () => {
    const h = new PlacementHarness({ hosts: 4, cellBits: 0, seed: 1, placement: { admitTimeoutMs: 100 } });
    // The owner takes no jobs itself, so every admission crosses the (intercepted) network.
    h.byPeer.get(ownerOf(h, 'late'))!.ledger.updateProfile({ draining: true });
    h.refreshViews();
    let delayed = 0;
    h.intercept = (_from, _to, msg) => {
      // The first acceptance crawls back 500 ms late.
      if (msg.t === 'admit-result' && msg.result.type === 'accepted' && delayed++ === 0) return 500;
      return 0;
    };
    const holder = h.submit(0, spec({ name: 'late', idempotencyKey: 'late' }));
    assert.ok(h.runUntil(() => holder.calls > 0, 10_000), 'the submit must be answered');
    const o = holder.outcome as Extract<SubmitOutcome, { type: 'placed' }>;
    assert.equal(o.type, 'placed', `placed on the second host: ${JSON.stringify(o)}`);
    assert.equal(o.epoch, 2, 'the second ask ran at epoch 2');
    h.runFor(2_000);
    const holders = h.hosts.filter((x) => x.ledger.get(o.jobId) !== undefined).map((x) => x.peer);
    assert.deepEqual(holders, [o.host], `after the late answer only the bound host holds the job, got ${holders.join(',')}`);
    const owner = h.byPeer.get(ownerOf(h, 'late'))!;
    assert.equal(owner.node.stats.releases, 1, 'the owner sent one release');
  });

  it('answers the caller only after the owner’s binding is durable', () => {
    const saves: { binding: Binding; done: (err: Error | null, now: Millis) => void }[] = [];
    const store: BindingPersistence = { save: (binding, done) => saves.push({ binding, done }) };
    const h = new PlacementHarness({ hosts: 3, cellBits: 0, seed: 2, bindings: () => store });
    const holder = h.submit(0, spec({ name: 'durable', idempotencyKey: 'durable' }));
    h.runFor(1_000);
    assert.equal(saves.length, 1, 'the owner saves the binding once placed');
    assert.equal(holder.calls, 0, 'no answer before the binding write completes');
    assert.equal(saves[0]!.binding.state, 'placed');
    saves[0]!.done(null, h.now);
    assert.ok(h.runUntil(() => holder.calls > 0, 1_000), 'the answer follows the write');
    assert.equal(holder.outcome?.type, 'placed');
    assert.equal((holder.outcome as { jobId: string }).jobId, saves[0]!.binding.jobId, 'the caller gets the bound job');
  });

  it('moves on when a peer that looks like a host runs no jobs', () => {
    const h = new PlacementHarness({ hosts: 4, cellBits: 0, seed: 3, nonHost: (i) => i < 3 });
    const holder = h.submit(0, spec({ name: 'x', idempotencyKey: 'x' }));
    assert.ok(h.runUntil(() => holder.calls > 0, 10_000));
    assert.ok(holder.outcome?.type === 'placed' && holder.outcome.host === h.hosts[3]!.peer, `only node-003 runs jobs: ${JSON.stringify(holder.outcome)}`);
  });

  it('refuses a spec too large for the wire at once, with PLACEMENT_MESSAGE_TOO_LARGE', () => {
    const h = new PlacementHarness({ hosts: 3, cellBits: 0, seed: 4 });
    const holder = h.submit(0, spec({ name: 'huge', kind: 'process', command: Array.from({ length: 40 }, () => 'x'.repeat(4000)) }));
    assert.equal(holder.calls, 1, 'answered synchronously');
    assert.ok(holder.outcome?.type === 'failed' && holder.outcome.code === 'PLACEMENT_MESSAGE_TOO_LARGE', JSON.stringify(holder.outcome).slice(0, 200));
    assert.equal(h.messages, 0, 'nothing was sent');
  });

  it('says PLACEMENT_OVERLOADED beyond maxActivePlacements instead of queueing without bound', () => {
    const h = new PlacementHarness({ hosts: 2, cellBits: 0, seed: 5, placement: { maxActivePlacements: 1 }, latencyMs: 5 });
    const owner = ownerOf(h, 'k0');
    const keys: string[] = [];
    for (let i = 0; keys.length < 2; i++) if (ownerOf(h, `k${i}`) === owner) keys.push(`k${i}`);
    // The owner takes no jobs itself, so its first placement is still waiting on a remote admission when the second submit arrives.
    h.byPeer.get(owner)!.ledger.updateProfile({ draining: true });
    const a = h.submit(0, spec({ name: 'a', idempotencyKey: keys[0] }));
    const b = h.submit(1, spec({ name: 'b', idempotencyKey: keys[1] }));
    assert.ok(h.runUntil(() => a.calls > 0 && b.calls > 0, 10_000));
    const codes = [a.outcome, b.outcome].map((o) => (o!.type === 'failed' ? o!.code : o!.type)).sort();
    assert.deepEqual(codes, ['PLACEMENT_OVERLOADED', 'placed'], `one placed, one refused for overload: ${codes.join(',')}`);
  });

  it('generates an idempotency key when the caller gave none, so its own retries stay exactly-once', () => {
    const h = new PlacementHarness({ hosts: 3, cellBits: 0, seed: 6 });
    const s = spec({ name: 'nokey' });
    const holder = h.submit(0, s);
    assert.ok(h.runUntil(() => holder.calls > 0, 10_000));
    assert.equal(holder.outcome?.type, 'placed');
    const r = [...h.hosts.flatMap((x) => [...x.ledger.reservations()])];
    assert.equal(r.length, 1);
    assert.match(r[0]!.key, /^auto-/, 'the reservation carries the generated key');
  });
});
