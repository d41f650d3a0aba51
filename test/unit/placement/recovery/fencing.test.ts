import assert from 'node:assert/strict';
import type { JobRecord } from '../../../../src/core/job.ts';
import { fenceVerdict, isReplicated, mergePushed, visibleRecord, wantsRunning, withOutcome, type ReplicaOutcome } from '../../../../src/placement/recovery/index.ts';
import { spec } from '../fixtures.ts';

function rec(over: Partial<JobRecord> = {}): JobRecord {
  return {
    id: 'j1',
    spec: spec({ idempotencyKey: 'k1' }),
    specDigest: 'd',
    host: 'f',
    driver: 'fake',
    desired: 'running',
    state: 'running',
    epoch: 3,
    createdAtMs: 0,
    updatedAtMs: 0,
    ...over,
  };
}

const replaced = (epoch: number, host = 'x'): ReplicaOutcome => ({ type: 'replaced', host, epoch, reason: `re-placed on ${host}`, atMs: 5, by: 'e' });
const lost = (epoch: number): ReplicaOutcome => ({ type: 'lost', host: null, epoch, reason: 'evacuate: false', atMs: 5, by: 'e' });

describe('recovery: fencing verdicts', () => {
  const local = { host: 'f', epoch: 3 };

  it('fences when a placed binding names another host at a higher epoch', () => {
    assert.deepEqual(fenceVerdict(local, { host: 'x', epoch: 4, state: 'placed' }), { type: 'fence', host: 'x', epoch: 4 });
  });

  it('fences the loser of an equal-epoch race: the binding picks the winner', () => {
    assert.deepEqual(fenceVerdict(local, { host: 'x', epoch: 3, state: 'placed' }), { type: 'fence', host: 'x', epoch: 3 });
  });

  it('keeps on a stale binding (lower epoch elsewhere), on agreement, and without news', () => {
    assert.equal(fenceVerdict(local, { host: 'x', epoch: 2, state: 'placed' }).type, 'keep', 'an owner back with old state must not fence a newer copy');
    assert.equal(fenceVerdict(local, { host: 'f', epoch: 3, state: 'placed' }).type, 'keep', 'the binding names this host');
    assert.equal(fenceVerdict(local, { host: 'f', epoch: 5, state: 'placed' }).type, 'keep', 'this host at a newer epoch than its record');
    assert.equal(fenceVerdict(local, null).type, 'keep', 'no binding: no evidence');
    assert.equal(fenceVerdict(local, { host: null, epoch: 4, state: 'placing' }).type, 'wait', 'a first placement in progress');
  });

  it('waits while a move is in flight: the move may fail and the job stay here', () => {
    assert.equal(fenceVerdict(local, { host: 'f', epoch: 4, state: 'placing' }).type, 'wait');
    assert.equal(fenceVerdict(local, { host: 'f', epoch: 3, state: 'placing' }).type, 'keep');
  });
});

describe('recovery: replica entries', () => {
  it('replicate live records of their owner only', () => {
    assert.ok(isReplicated(rec(), 'f'));
    assert.ok(!isReplicated(rec({ state: 'fenced' }), 'f'), 'a fenced copy is not the job any more');
    assert.ok(!isReplicated(rec({ desired: 'deleted' }), 'f'), 'deleted jobs are dropped');
    assert.ok(!isReplicated(rec({ host: 'x' }), 'f'), 'a record naming another host is not this owner\'s');
    assert.ok(isReplicated(rec({ desired: 'stopped', state: 'stopped' }), 'f'), 'a stopped job still exists');
  });

  it('want running only when desired running and not ended', () => {
    assert.ok(wantsRunning(rec()));
    assert.ok(wantsRunning(rec({ state: 'placed' })));
    assert.ok(wantsRunning(rec({ state: 'failed' })), 'a job that failed on its host may run elsewhere');
    assert.ok(!wantsRunning(rec({ state: 'stopped' })), 'ended by its restart policy');
    assert.ok(!wantsRunning(rec({ desired: 'stopped' })));
    assert.ok(!wantsRunning(rec({ state: 'lost' })));
  });

  it('keep a newer replacement across a push of the old copy, and tell the pusher to fence', () => {
    const entry = { owner: 'f', record: rec(), outcome: replaced(4) };
    const merged = mergePushed(entry, 'f', rec({ updatedAtMs: 9 }));
    assert.deepEqual(merged.fence, { jobId: 'j1', host: 'x', epoch: 4 }, 'the owner is told where the job runs now');
    assert.deepEqual(merged.entry.outcome, replaced(4), 'the outcome survives the push');
    assert.equal(merged.entry.record.updatedAtMs, 9, 'the record is the pushed one');
  });

  it('clear a lost outcome when the owner is back and pushes the job again', () => {
    const merged = mergePushed({ owner: 'f', record: rec(), outcome: lost(3) }, 'f', rec());
    assert.equal(merged.entry.outcome, null, 'the owner runs it again: no longer lost');
    assert.equal(merged.fence, null);
  });

  it('ignore an outcome older than the one recorded, and never downgrade replaced to lost', () => {
    const e = { owner: 'f', record: rec(), outcome: replaced(5) };
    assert.equal(withOutcome(e, replaced(4)).outcome!.epoch, 5, 'older replacement ignored');
    assert.equal(withOutcome(e, lost(3)).outcome!.type, 'replaced', 'lost does not override replaced');
    assert.equal(withOutcome(e, replaced(6)).outcome!.epoch, 6, 'newer replacement wins');
  });

  it('show lost jobs as lost and replaced copies as fenced', () => {
    assert.equal(visibleRecord({ owner: 'f', record: rec(), outcome: lost(3) }).state, 'lost');
    assert.equal(visibleRecord({ owner: 'f', record: rec(), outcome: replaced(4) }).state, 'fenced');
    assert.equal(visibleRecord({ owner: 'f', record: rec(), outcome: null }).state, 'running');
  });
});
