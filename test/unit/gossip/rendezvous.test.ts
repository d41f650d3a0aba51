import assert from 'node:assert/strict';
import { SeededRng } from '../../../src/core/rng.ts';
import { RendezvousCache } from '../../../src/gossip/rendezvous.ts';
import { record } from './fixtures.ts';

describe('rendezvous cache', () => {
  it('keeps the newest records per cell and forgets the oldest cell first', () => {
    const rc = new RendezvousCache(2, 2);
    rc.add(1, record('a'));
    rc.add(1, record('b'));
    rc.add(1, record('c'));
    assert.deepEqual(rc.of(1, 'x').map((r) => r.origin), ['b', 'c'], 'two per cell, newest kept');
    assert.deepEqual(rc.of(1, 'b').map((r) => r.origin), ['c'], 'never the asker itself');
    rc.add(2, record('d'));
    rc.add(3, record('e'));
    assert.deepEqual(rc.of(1, 'x'), [], 'cell 1 was the oldest of three');
    assert.equal(rc.of(3, 'x')[0]?.origin, 'e');
  });

  it('finds a host of a cell range (a district nobody has a digest of), never self', () => {
    const rc = new RendezvousCache(4, 64);
    const rng = new SeededRng(3);
    assert.equal(rc.anyIn(0, 64, rng, 'me'), undefined, 'nothing remembered');
    rc.add(10, record('in-range'));
    rc.add(70, record('other-district'));
    rc.add(20, record('me'));
    const picked = new Set<string>();
    for (let i = 0; i < 50; i++) picked.add(rc.anyIn(0, 64, rng, 'me')?.origin ?? 'none');
    assert.deepEqual([...picked], ['in-range'], 'only the range, and never self');
    assert.equal(rc.anyIn(64, 128, rng, 'me')?.origin, 'other-district');
    assert.equal(rc.anyIn(128, 4096, rng, 'me'), undefined, 'a range wider than the cache is scanned by cell held');
  });
});
