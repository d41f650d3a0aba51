import assert from 'node:assert/strict';
import fc from 'fast-check';
import { hash32 } from '../../../../src/core/hash.ts';
import type { MemberStatus, MemberView } from '../../../../src/gossip/records.ts';
import { evacuatorOf, replicaHolders, sameHolders } from '../../../../src/placement/recovery/index.ts';
import { member, record } from '../fixtures.ts';

const SEED = Number(process.env.RECOVERY_SEED ?? 7);

function cell(ids: string[], status: (id: string) => MemberStatus = () => 'alive'): MemberView[] {
  return ids.map((id) => member(record(id), status(id)));
}

function ringOrder(ids: string[]): string[] {
  return [...ids].sort((a, b) => hash32(a) - hash32(b) || (a < b ? -1 : a > b ? 1 : 0));
}

describe('recovery: replica holders on the cell ring', () => {
  const ids = Array.from({ length: 10 }, (_, i) => `host-${i}`);

  it('are the k members after the owner in hash order, wrapping around, owner excluded', () => {
    const ring = ringOrder(ids);
    for (let i = 0; i < ring.length; i++) {
      const owner = ring[i]!;
      const want = [ring[(i + 1) % ring.length]!, ring[(i + 2) % ring.length]!];
      assert.deepEqual(replicaHolders(owner, cell(ids), 2), want, `holders of ${owner} (ring position ${i})`);
    }
  });

  it('skip failed and left members but keep suspects (a suspicion is often refuted)', () => {
    const ring = ringOrder(ids);
    const owner = ring[0]!;
    const status = (id: string): MemberStatus => (id === ring[1] ? 'failed' : id === ring[2] ? 'suspect' : id === ring[3] ? 'left' : 'alive');
    assert.deepEqual(replicaHolders(owner, cell(ids, status), 2), [ring[2], ring[4]], 'failed and left members are skipped, the suspect stays');
  });

  it('are found for an owner that is no longer in the view (its position depends on its id only)', () => {
    const ring = ringOrder(ids);
    const gone = ring[5]!;
    const without = ids.filter((id) => id !== gone);
    assert.deepEqual(replicaHolders(gone, cell(without), 2), [ring[6], ring[7]], 'successors of a forgotten owner');
  });

  it('are fewer than k in a small cell, and none for k = 0', () => {
    assert.deepEqual(replicaHolders('a', cell(['a', 'b']), 3), ['b'], 'a two-member cell has one holder per owner');
    assert.deepEqual(replicaHolders('a', cell(['a', 'b', 'c']), 0), [], 'k = 0 disables replication');
    assert.deepEqual(replicaHolders('a', cell(['a']), 2), [], 'a lone host has no holder');
  });

  it('prefer other zones than the owner\'s, one zone each, and stay in ring order', () => {
    const ring = ringOrder(ids);
    const owner = ring[0]!;
    // Successors 1-3 share the owner's zone a; 4 is in b, 5 in b, 6 in c.
    const zoneOf = (id: string): string => (id === owner || id === ring[1] || id === ring[2] || id === ring[3] ? 'a' : id === ring[4] || id === ring[5] ? 'b' : 'c');
    const members = ids.map((id) => member(record(id, { zone: zoneOf(id) })));
    assert.deepEqual(replicaHolders(owner, members, 2), [ring[4], ring[6]], 'the first successor of each other zone');
    const twoZones = ids.map((id) => member(record(id, { zone: id === ring[4] || id === ring[5] ? 'b' : 'a' })));
    assert.deepEqual(replicaHolders(owner, twoZones, 2), [ring[4], ring[5]], 'a zone may hold both when only one other zone exists');
    const oneZone = ids.map((id) => member(record(id, { zone: 'a' })));
    assert.deepEqual(replicaHolders(owner, oneZone, 2), [ring[1], ring[2]], 'a single-zone cell falls back to plain successors');
    const mixed = ids.map((id) => member(record(id, { zone: id === ring[3] ? 'b' : 'a' })));
    assert.deepEqual(replicaHolders(owner, mixed, 2), [ring[1], ring[3]], 'the other-zone member first, then the nearest successor, listed in ring order');
  });

  it('property: a zone failure never takes an owner together with all its holders while the cell has members elsewhere', () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 0, max: 3 }), { minLength: 4, maxLength: 40 }), fc.nat(), (zones, pick) => {
        const peers = zones.map((_, i) => `p${i}`);
        const members = peers.map((id, i) => member(record(id, { zone: `z${zones[i]}` })));
        const o = pick % peers.length;
        const holders = replicaHolders(peers[o]!, members, 2);
        const elsewhere = zones.filter((z, i) => i !== o && z !== zones[o]).length;
        const sameZoneHolders = holders.filter((h) => zones[Number(h.slice(1))] === zones[o]).length;
        assert.ok(elsewhere === 0 || sameZoneHolders < holders.length, `owner ${o} in zone ${zones[o]} has every holder in its zone: ${holders}`);
        if (elsewhere >= 2) assert.equal(sameZoneHolders, 0, `two members exist elsewhere, yet a holder shares the owner's zone: ${holders}`);
      }),
      { seed: SEED, numRuns: 300 },
    );
  });

  it('property: every view with the same up members gives the same holders, whatever the iteration order', () => {
    console.log(`      fast-check seed ${SEED}`);
    fc.assert(
      fc.property(fc.uniqueArray(fc.string({ minLength: 1, maxLength: 12 }), { minLength: 2, maxLength: 40 }), fc.integer({ min: 1, max: 4 }), fc.nat(), (peers, k, pick) => {
        const owner = peers[pick % peers.length]!;
        const a = replicaHolders(owner, cell(peers), k);
        const b = replicaHolders(owner, cell([...peers].reverse()), k);
        assert.ok(sameHolders(a, b), `holders depend on iteration order: ${a} vs ${b}`);
        assert.equal(a.length, Math.min(k, peers.length - 1), 'k holders when the cell has enough members');
        assert.ok(!a.includes(owner), 'an owner never holds its own replicas');
        assert.equal(new Set(a).size, a.length, 'holders are distinct');
      }),
      { seed: SEED, numRuns: 300 },
    );
  });
});

describe('recovery: the evacuator of a failed host', () => {
  const status = (m: Record<string, MemberStatus>) => (p: string) => m[p];

  it('is the first up holder in ring order, self counting as up', () => {
    assert.equal(evacuatorOf(['a', 'b'], 'b', status({ a: 'alive' })), 'a', 'a is first and alive');
    assert.equal(evacuatorOf(['a', 'b'], 'b', status({ a: 'failed' })), 'b', 'a failed: b takes over');
    assert.equal(evacuatorOf(['a', 'b'], 'b', status({ a: 'suspect' })), 'a', 'a suspect is still up: b waits');
    assert.equal(evacuatorOf(['a', 'b'], 'a', status({ b: 'alive' })), 'a', 'self first');
  });

  it('is a node outside the list that still holds replicas when every listed holder is down', () => {
    assert.equal(evacuatorOf(['a', 'b'], 'c', status({ a: 'failed', b: 'left' })), 'c', 'a dropped holder acts rather than lose the jobs');
    assert.equal(evacuatorOf([], 'c', status({})), 'c', 'no holder list known: whoever holds replicas acts');
  });
});
