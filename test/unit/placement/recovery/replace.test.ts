import assert from 'node:assert/strict';
import type { JobSpec } from '../../../../src/core/job.ts';
import { keyHashOf, type SubmitOutcome } from '../../../../src/placement/index.ts';
import { PlacementHarness } from '../cluster-harness.ts';
import { spec } from '../fixtures.ts';

/**
 * Re-placement through the key owner (`PlacementNode.replace`): the same job id at a higher
 * epoch, never on the old host, idempotent however many evacuators ask, serialised with
 * submits of the same key. Real PlacementNodes and HostLedgers, virtual time, real codec.
 */

const SEED = Number(process.env.RECOVERY_SEED ?? 11);

type Placed = Extract<SubmitOutcome, { type: 'placed' }>;

function placed(o: SubmitOutcome | null, what: string): Placed {
  assert.ok(o !== null, `${what}: no outcome`);
  assert.equal(o.type, 'placed', `${what}: expected placed, got ${JSON.stringify(o)}`);
  return o as Placed;
}

/** Hosts whose ledger holds the job, up or down. */
function holdersOf(h: PlacementHarness, jobId: string): { peer: string; epoch: number; up: boolean }[] {
  return h.hosts.filter((x) => x.ledger.get(jobId) !== undefined).map((x) => ({ peer: x.peer, epoch: x.ledger.get(jobId)!.epoch, up: x.downSinceMs === null }));
}

function placeOne(h: PlacementHarness, s: JobSpec): Placed {
  const r = h.submit(0, s);
  h.runUntil(() => r.outcome !== null, 30_000);
  return placed(r.outcome, `placing ${s.idempotencyKey}`);
}

describe('recovery: re-placement through the key owner', function () {
  before(() => console.log(`      seed ${SEED}`));

  it('moves a job off its failed host at epoch + 1, once, and every locate then finds the new copy', () => {
    const h = new PlacementHarness({ hosts: 8, cellBits: 0, seed: SEED });
    const s = spec({ idempotencyKey: 'evac-1' });
    const first = placeOne(h, s);
    const old = h.byPeer.get(first.host)!;
    h.crash(old);
    h.runFor(3000); // views mark it failed
    const entry = h.hosts.find((x) => x.downSinceMs === null)!.index;
    const r = h.replace(entry, s, { jobId: first.jobId, fromHost: first.host, fromEpoch: first.epoch, driver: first.driver });
    h.runUntil(() => r.outcome !== null, 30_000);
    const moved = placed(r.outcome, 'replace');
    assert.equal(moved.jobId, first.jobId, 'the same job id');
    assert.notEqual(moved.host, first.host, 'never back on the failed host');
    assert.equal(moved.epoch, first.epoch + 1, 'one epoch above the replaced copy');
    assert.equal(moved.duplicate, false, 'the first re-placement is a new copy');
    const live = holdersOf(h, first.jobId).filter((x) => x.up);
    assert.deepEqual(live, [{ peer: moved.host, epoch: moved.epoch, up: true }], 'exactly one live copy, at the new epoch');

    // A second evacuator (or a retry) gets the same answer and creates nothing.
    const again = h.replace((entry + 1) % 8 === old.index ? (entry + 2) % 8 : (entry + 1) % 8, s, { jobId: first.jobId, fromHost: first.host, fromEpoch: first.epoch, driver: first.driver });
    h.runUntil(() => again.outcome !== null, 30_000);
    const dup = placed(again.outcome, 'second replace');
    assert.deepEqual([dup.host, dup.epoch, dup.duplicate], [moved.host, moved.epoch, true], 'idempotent per (job, epoch)');
    assert.equal(holdersOf(h, first.jobId).filter((x) => x.up).length, 1, 'still one live copy');

    const loc = h.locate(entry, first.jobId);
    h.runUntil(() => loc.outcome !== null, 10_000);
    assert.deepEqual(loc.outcome, { type: 'found', jobId: first.jobId, host: moved.host, epoch: moved.epoch, state: 'placed' }, 'the binding names the new copy');

    // The caller's own retry of the original submit now names the new host.
    const resubmit = h.submit(entry, s);
    h.runUntil(() => resubmit.outcome !== null, 30_000);
    const re = placed(resubmit.outcome, 'resubmit');
    assert.deepEqual([re.jobId, re.host, re.duplicate], [first.jobId, moved.host, true], 'a submit of the same key finds the moved job');
  });

  it('gives two evacuators asking at once one new copy', () => {
    const h = new PlacementHarness({ hosts: 10, cellBits: 1, seed: SEED + 1 });
    const jobs = Array.from({ length: 6 }, (_, i) => spec({ name: `j${i}`, idempotencyKey: `race-${i}` }));
    const firsts = jobs.map((s) => placeOne(h, s));
    const victim = h.byPeer.get(firsts[0]!.host)!;
    h.crash(victim);
    h.runFor(3000);
    const up = h.hosts.filter((x) => x.downSinceMs === null);
    const answers = jobs.flatMap((s, i) => {
      const f = firsts[i]!;
      if (f.host !== victim.peer) return [];
      const target = { jobId: f.jobId, fromHost: f.host, fromEpoch: f.epoch, driver: f.driver };
      return [h.replace(up[0]!.index, s, target), h.replace(up[up.length - 1]!.index, s, target)].map((r) => ({ r, jobId: f.jobId }));
    });
    assert.ok(answers.length >= 2, 'the victim held at least one job');
    h.runUntil(() => answers.every((a) => a.r.outcome !== null), 30_000);
    for (const jobId of new Set(answers.map((a) => a.jobId))) {
      const mine = answers.filter((a) => a.jobId === jobId).map((a) => placed(a.r.outcome, `replace ${jobId}`));
      assert.equal(new Set(mine.map((o) => `${o.host}@${o.epoch}`)).size, 1, `both evacuators of ${jobId} got the same copy: ${JSON.stringify(mine)}`);
      assert.equal(mine.filter((o) => !o.duplicate).length, 1, `exactly one of them created it`);
      assert.equal(holdersOf(h, jobId).filter((x) => x.up).length, 1, `one live copy of ${jobId}`);
    }
  });

  it('moves a job off a live host (drain) and releases the old copy there', () => {
    const h = new PlacementHarness({ hosts: 6, cellBits: 0, seed: SEED + 2 });
    const s = spec({ idempotencyKey: 'drain-1' });
    const first = placeOne(h, s);
    const from = h.byPeer.get(first.host)!;
    from.ledger.updateProfile({ draining: true });
    h.refreshViews();
    const r = h.replace(from.index, s, { jobId: first.jobId, fromHost: first.host, fromEpoch: first.epoch, driver: first.driver });
    h.runUntil(() => r.outcome !== null, 30_000);
    const moved = placed(r.outcome, 'drain replace');
    assert.notEqual(moved.host, from.peer);
    h.runFor(100); // the release travels to the old host
    assert.equal(from.ledger.get(first.jobId), undefined, 'the old host released its reservation when told the job moved');
    assert.deepEqual(holdersOf(h, first.jobId), [{ peer: moved.host, epoch: first.epoch + 1, up: true }], 'one copy left in the cluster');
  });

  it('adopts the replaced copy as the binding when the key owner has none (its owner failed)', () => {
    const h = new PlacementHarness({ hosts: 6, cellBits: 0, seed: SEED + 3 });
    const s = spec({ idempotencyKey: 'orphan-1' });
    const first = placeOne(h, s);
    for (const x of h.hosts) x.node.registry.forget(first.jobId); // nobody remembers the key
    h.crash(h.byPeer.get(first.host)!);
    h.runFor(3000);
    const entry = h.hosts.find((x) => x.downSinceMs === null)!;
    const r = h.replace(entry.index, s, { jobId: first.jobId, fromHost: first.host, fromEpoch: first.epoch, driver: first.driver });
    h.runUntil(() => r.outcome !== null, 30_000);
    const moved = placed(r.outcome, 'replace without binding');
    assert.equal(moved.epoch, first.epoch + 1, 'above the adopted copy');
    assert.equal(moved.jobId, first.jobId);
    const owners = h.hosts.filter((x) => x.node.registry.byJobId(first.jobId) !== undefined);
    assert.equal(owners.length, 1, 'exactly one node bound the key again');
    assert.equal(owners[0]!.node.registry.byJobId(first.jobId)!.host, moved.host);
  });

  it('keeps the binding on the old host when nothing can take the job, and retries above every tried epoch', () => {
    const big = { vcpus: 16, memoryMiB: 65536, diskGiB: 500 };
    const small = { vcpus: 4, memoryMiB: 65536, diskGiB: 500 };
    const h = new PlacementHarness({ hosts: 5, cellBits: 0, seed: SEED + 4, capacity: (i) => (i === 0 ? big : small) });
    const s = spec({ idempotencyKey: 'big-1', resources: { vcpus: 12, memoryMiB: 1024, diskGiB: 0 } });
    const first = placeOne(h, s);
    assert.equal(first.host, h.hosts[0]!.peer, 'only host 0 fits it');
    h.crash(h.hosts[0]!);
    h.runFor(3000);
    const target = { jobId: first.jobId, fromHost: first.host, fromEpoch: first.epoch, driver: first.driver };
    const r = h.replace(1, s, target);
    h.runUntil(() => r.outcome !== null, 60_000);
    assert.equal(r.outcome!.type, 'refused', `no host has 12 vCPUs free: ${JSON.stringify(r.outcome)}`);
    const loc = h.locate(2, first.jobId);
    h.runUntil(() => loc.outcome !== null, 10_000);
    assert.deepEqual(loc.outcome, { type: 'found', jobId: first.jobId, host: first.host, epoch: first.epoch, state: 'placed' }, 'binding restored to the old copy');

    h.hosts[3]!.ledger.updateProfile({ capacity: big });
    h.refreshViews();
    const r2 = h.replace(1, s, target);
    h.runUntil(() => r2.outcome !== null, 60_000);
    const moved = placed(r2.outcome, 'replace after capacity appeared');
    assert.equal(moved.host, h.hosts[3]!.peer);
    assert.ok(moved.epoch >= first.epoch + 2, `an epoch above the refused try's (${first.epoch + 1}), got ${moved.epoch}`);
  });

  it('bindOnly re-binds a job at a key owner that lost track of it, without moving anything', () => {
    const h = new PlacementHarness({ hosts: 5, cellBits: 0, seed: SEED + 6 });
    const s = spec({ idempotencyKey: 'rebind-1' });
    const first = placeOne(h, s);
    for (const x of h.hosts) x.node.registry.forget(first.jobId);
    const target = { jobId: first.jobId, fromHost: first.host, fromEpoch: first.epoch, driver: first.driver, bindOnly: true };
    const r = h.replace(0, s, target);
    h.runUntil(() => r.outcome !== null, 10_000);
    const bound = placed(r.outcome, 'bindOnly');
    assert.deepEqual([bound.host, bound.epoch, bound.duplicate], [first.host, first.epoch, true], 'the binding names where the job lives');
    assert.deepEqual(holdersOf(h, first.jobId), [{ peer: first.host, epoch: first.epoch, up: true }], 'nothing was placed or moved');
    const loc = h.locate(3, first.jobId);
    h.runUntil(() => loc.outcome !== null, 10_000);
    assert.equal(loc.outcome!.type === 'found' && loc.outcome!.host, first.host, 'locate finds it again');
    // An older copy cannot pull the binding back.
    const stale = h.replace(1, s, { ...target, fromHost: h.hosts.find((x) => x.peer !== first.host)!.peer, fromEpoch: first.epoch });
    h.runUntil(() => stale.outcome !== null, 10_000);
    assert.equal(placed(stale.outcome, 'stale bindOnly').host, first.host, 'a bind at the same epoch does not move the binding');
  });

  it('refuses a re-placement whose job id does not belong to the key, or whose spec differs', () => {
    const h = new PlacementHarness({ hosts: 4, cellBits: 0, seed: SEED + 5 });
    const s = spec({ idempotencyKey: 'k-a' });
    const first = placeOne(h, s);
    const wrongKey = h.replace(1, spec({ idempotencyKey: 'k-b' }), { jobId: first.jobId, fromHost: first.host, fromEpoch: 1, driver: first.driver });
    h.runUntil(() => wrongKey.outcome !== null, 10_000);
    assert.equal(wrongKey.outcome!.type === 'failed' && wrongKey.outcome!.code, 'PLACEMENT_BAD_REQUEST', `job id of another key: ${JSON.stringify(wrongKey.outcome)}`);
    const otherSpec = h.replace(1, spec({ idempotencyKey: 'k-a', name: 'other' }), { jobId: first.jobId, fromHost: first.host, fromEpoch: 1, driver: first.driver });
    h.runUntil(() => otherSpec.outcome !== null, 10_000);
    assert.equal(otherSpec.outcome!.type === 'failed' && otherSpec.outcome!.code, 'PLACEMENT_IDEMPOTENCY_CONFLICT', `different spec: ${JSON.stringify(otherSpec.outcome)}`);
    assert.equal(keyHashOf('default', 'k-a') !== keyHashOf('default', 'k-b'), true);
  });
});
