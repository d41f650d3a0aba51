import assert from 'node:assert/strict';
import { currentCopies, type JobRecord, type JobState } from '../../../src/core/job.ts';

function copy(id: string, host: string, epoch: number, state: JobState): JobRecord {
  return {
    id,
    spec: { name: id, kind: 'vm', resources: { vcpus: 1, memoryMiB: 512 } } as JobRecord['spec'],
    specDigest: 'd',
    host,
    driver: 'fake',
    desired: 'running',
    state,
    epoch,
    createdAtMs: 0,
    updatedAtMs: 0,
  };
}

describe('currentCopies: one job gathered from several hosts', () => {
  it('lists a moved job by its new copy, whichever host answered first', () => {
    // The old host's fenced copy (epoch 1) came first: a first-seen rule hid the live one.
    const old = copy('j', 'h1', 1, 'fenced');
    const moved = copy('j', 'h2', 2, 'placed');
    assert.deepEqual(currentCopies([old, moved]), [moved]);
    assert.deepEqual(currentCopies([moved, old]), [moved]);
  });

  it('drops an older copy its host has not fenced yet', () => {
    assert.deepEqual(currentCopies([copy('j', 'h1', 1, 'running'), copy('j', 'h2', 2, 'starting')]).map((c) => c.host), ['h2']);
  });

  it('prefers a live copy over a fenced one at the same epoch, and keeps a fenced job listed', () => {
    assert.deepEqual(currentCopies([copy('j', 'h1', 3, 'fenced'), copy('j', 'h2', 3, 'running')]).map((c) => c.host), ['h2']);
    assert.deepEqual(currentCopies([copy('j', 'h1', 3, 'fenced')]).map((c) => c.state), ['fenced']);
  });

  it('keeps two live copies at one epoch: a duplicate must show', () => {
    assert.equal(currentCopies([copy('j', 'h1', 1, 'running'), copy('j', 'h2', 1, 'running')]).length, 2);
  });

  it('leaves distinct jobs alone, in first-seen order', () => {
    assert.deepEqual(
      currentCopies([copy('a', 'h1', 1, 'running'), copy('b', 'h2', 1, 'placed'), copy('a', 'h3', 1, 'fenced')]).map((c) => `${c.id}@${c.host}`),
      ['a@h1', 'b@h2'],
    );
  });
});
