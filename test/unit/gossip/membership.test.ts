import assert from 'node:assert/strict';
import { hash32 } from '../../../src/core/hash.ts';
import { SeededRng } from '../../../src/core/rng.ts';
import { Membership, type MemberEvent } from '../../../src/gossip/membership.ts';
import { MEMBERSHIP_OPTS as opts, record } from './fixtures.ts';

function table(peers = ['a', 'b', 'c', 'd']) {
  const m = new Membership(opts, record('self', { incarnation: 5 }), 0);
  const events: MemberEvent[] = [];
  m.onEvent((e) => events.push(e));
  for (const p of peers) m.applyRecord(record(p, { incarnation: 1, seq: 1 }), 0);
  events.length = 0;
  return { m, events };
}

describe('Membership (SWIM states and the cell ring)', () => {
  it('newer records supersede older ones; stale ones are refused', () => {
    const { m } = table(['a']);
    assert.equal(m.applyRecord(record('a', { incarnation: 1, seq: 1 }), 1), 'stale', 'same version');
    assert.equal(m.applyRecord(record('a', { incarnation: 1, seq: 0 }), 1), 'stale', 'older seq');
    assert.equal(m.applyRecord(record('a', { incarnation: 0, seq: 99 }), 1), 'stale', 'older incarnation wins over nothing');
    assert.equal(m.applyRecord(record('a', { incarnation: 1, seq: 2 }), 1), 'updated');
    assert.equal(m.applyRecord(record('a', { incarnation: 2, seq: 0 }), 1), 'updated', 'a higher incarnation resets seq');
    assert.equal(m.get('a')!.record.incarnation, 2);
  });

  it('version moves on new facts and status changes, not on a re-announcement of the same facts', () => {
    const { m } = table(['a']);
    let v = m.version;
    assert.equal(m.applyRecord(record('a', { incarnation: 1, seq: 2 }), 1), 'updated');
    assert.equal(m.version, v, 'same facts, higher seq: the summary needs no recomputing');
    assert.equal(m.get('a')!.record.seq, 2, 'the newer seq is still taken');
    const changes: Partial<Parameters<typeof record>[1]>[] = [
      { free: { vcpus: 31, memoryMiB: 131072, diskGiB: 1000 } },
      { labels: { energy: 'hydro', rack: 'r2' } },
      { labels: { energy: 'hydro' } },
      { drivers: ['qemu'] },
      { addrs: ['/ip4/10.0.0.2/tcp/4001'] },
      { health: 'degraded' },
      { draining: true },
    ];
    let seq = 3;
    for (const over of changes) {
      m.applyRecord(record('a', { incarnation: 1, seq: seq++, ...over }), 2);
      assert.notEqual(m.version, v, `a change of ${JSON.stringify(over)} moves the version`);
      v = m.version;
    }
    m.applyStatus('a', 'suspect', 1, 0, 3);
    assert.notEqual(m.version, v, 'a status change moves it');
    v = m.version;
    m.setSelf(record('self', { incarnation: 5, seq: 8 }), 4);
    assert.equal(m.version, v, "our own re-announcement doesn't");
    m.setSelf(record('self', { incarnation: 5, seq: 9, jobs: 5 }), 4);
    assert.notEqual(m.version, v, 'our own new facts do');
  });

  it('precedence: suspect(i ≥ j) beats alive, alive(i > j) refutes, failed sticks until a higher incarnation', () => {
    const { m, events } = table(['a']);
    assert.equal(m.applyStatus('a', 'suspect', 0, 0, 10), 'stale', 'a suspicion of an older incarnation is stale');
    assert.equal(m.applyStatus('a', 'suspect', 1, 0, 10), 'updated');
    assert.equal(m.statusOf('a'), 'suspect');
    assert.equal(m.applyRecord(record('a', { incarnation: 1, seq: 5 }), 20), 'updated', 'same incarnation: newer facts, still suspect');
    assert.equal(m.statusOf('a'), 'suspect');
    assert.equal(m.applyRecord(record('a', { incarnation: 2, seq: 0 }), 30), 'revived', 'incarnation 2 refutes the suspicion of 1');
    assert.equal(m.statusOf('a'), 'alive');
    assert.equal(m.applyStatus('a', 'failed', 2, 0, 40), 'updated');
    assert.equal(m.applyRecord(record('a', { incarnation: 2, seq: 9 }), 50), 'stale', 'a late record of the dead incarnation is ignored');
    assert.equal(m.applyStatus('a', 'suspect', 2, 0, 50), 'stale', 'failed is not downgraded to suspect');
    assert.equal(m.applyRecord(record('a', { incarnation: 3, seq: 0 }), 60), 'revived', 'a restart (higher incarnation) brings it back');
    assert.deepEqual(
      events.map((e) => `${e.peer}:${e.previous}>${e.status}@${e.incarnation}`),
      ['a:alive>suspect@1', 'a:suspect>alive@2', 'a:alive>failed@2', 'a:failed>alive@3'],
      'every status change is an event, with the previous status',
    );
  });

  it('left beats everything at its incarnation and is not turned into failed', () => {
    const { m } = table(['a']);
    assert.equal(m.applyStatus('a', 'left', 1, 0, 5), 'updated');
    assert.equal(m.applyStatus('a', 'failed', 1, 0, 6), 'stale');
    assert.equal(m.statusOf('a'), 'left');
  });

  it('a suspicion times out into failure; a confirmation shortens it; retention drops the member', () => {
    const { m } = table(['a', 'b']);
    m.applyStatus('a', 'suspect', 1, 0, 1000);
    m.applyStatus('b', 'suspect', 1, 0, 1000);
    m.applyStatus('b', 'suspect', 1, 1, 1200); // a second, independent accuser
    assert.equal(m.nextTimerAtMs(), 2000, 'b now fails at 1000 + min (1 s)');
    assert.deepEqual(m.tick(2000), ['b']);
    assert.equal(m.tick(3000), null, 'a waits the full 2.5 s');
    assert.deepEqual(m.tick(3500), ['a']);
    assert.equal(m.statusOf('a'), 'failed');
    m.tick(3500 + 60_000);
    assert.equal(m.get('a'), undefined, 'dropped after the retention time');
  });

  it('news about self at our incarnation asks for a refutation; older news is stale', () => {
    const { m } = table();
    assert.equal(m.applyStatus('self', 'suspect', 5, 0, 1), 'self-refute');
    assert.equal(m.applyStatus('self', 'failed', 7, 0, 1), 'self-refute');
    assert.equal(m.applyStatus('self', 'suspect', 4, 0, 1), 'stale');
    assert.equal(m.statusOf('self'), 'alive', 'self is always alive in its own view');
  });

  it('the ring: successors by hash skip suspects and the dead; roles by lowest hash', () => {
    const peers = ['a', 'b', 'c', 'd', 'e', 'f'];
    const { m } = table(peers);
    const ring = ['self', ...peers].sort((x, y) => hash32(x) - hash32(y));
    const at = ring.indexOf('self');
    const after = (k: number) => Array.from({ length: k }, (_, i) => ring[(at + 1 + i) % ring.length]!);
    assert.deepEqual(m.successors(2), after(2), 'the two members after self on the ring');
    const first = after(1)[0]!;
    m.applyStatus(first, 'suspect', 1, 0, 0);
    assert.deepEqual(m.successors(2), after(3).slice(1), 'a suspect successor is skipped: the next one gets a live monitor');
    assert.equal(m.lowest(1)[0]!.record.origin, ring.find((p) => p !== first), 'the reporter is the lowest-hash alive member');
    const rank = m.selfRank(10);
    assert.equal(rank, ring.filter((p) => p !== first).indexOf('self'), 'self rank among alive members');
  });

  it('random helpers are distinct, alive, and never self or the excluded peer', () => {
    const { m } = table(['a', 'b', 'c', 'd', 'e']);
    m.applyStatus('e', 'failed', 1, 0, 0);
    const rng = new SeededRng(9);
    for (let i = 0; i < 50; i++) {
      const picks = m.randomAlive(3, 'a', rng);
      assert.equal(new Set(picks).size, picks.length, 'distinct');
      for (const p of picks) assert.ok(!['a', 'e', 'self'].includes(p), `picked ${p}`);
    }
  });

  it('a synced status applies by the same rules', () => {
    const { m } = table([]);
    assert.equal(m.applySynced(record('z', { incarnation: 4, seq: 1 }), 'suspect', 4, 10), 'updated');
    assert.equal(m.statusOf('z'), 'suspect');
    assert.equal(m.applySynced(record('y', { incarnation: 4, seq: 1 }), 'failed', 3, 10), 'new', 'a failure of an older incarnation does not apply');
    assert.equal(m.statusOf('y'), 'alive');
  });
});
