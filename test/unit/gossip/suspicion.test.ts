import assert from 'node:assert/strict';
import { Awareness, suspicionTimeoutMs } from '../../../src/gossip/suspicion.ts';

describe('Lifeguard', () => {
  it('suspicion timeout shrinks from max to min as confirmations arrive', () => {
    assert.equal(suspicionTimeoutMs(1000, 5000, 0, 3), 5000, 'a lone accuser waits the longest');
    assert.equal(suspicionTimeoutMs(1000, 5000, 3, 3), 1000, 'all expected confirmations: the minimum');
    assert.equal(suspicionTimeoutMs(1000, 5000, 9, 3), 1000, 'never below the minimum');
    const one = suspicionTimeoutMs(1000, 5000, 1, 3);
    const two = suspicionTimeoutMs(1000, 5000, 2, 3);
    assert.ok(5000 > one && one > two && two > 1000, `must decrease: ${one}, ${two}`);
    assert.equal(suspicionTimeoutMs(1000, 2500, 1, 1), 1000, 'with one expected confirmation, one is enough');
  });

  it('awareness rises on trouble, falls on success, stays in bounds, and stretches timeouts', () => {
    const a = new Awareness(3);
    assert.equal(a.factor, 1, 'healthy: no stretch');
    for (let i = 0; i < 10; i++) a.worse();
    assert.equal(a.score, 3, 'capped at max');
    assert.equal(a.factor, 4);
    a.better();
    assert.equal(a.score, 2);
    a.setExternal(5);
    assert.equal(a.score, 3, 'internal + external is still capped');
    for (let i = 0; i < 10; i++) a.better();
    assert.equal(a.score, 3, 'the driver-reported load keeps it up');
    a.setExternal(0);
    assert.equal(a.score, 0);
  });
});
