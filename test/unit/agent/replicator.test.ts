import assert from 'node:assert/strict';
import { pino } from 'pino';
import type { JobRecord } from '../../../src/core/job.ts';
import type { PeerIdStr } from '../../../src/core/transport.ts';
import { Replicator, defaultReplicatorOptions } from '../../../src/agent/recovery/index.ts';
import { ManualClock } from '../net/fakes.ts';
import { spec } from '../placement/fixtures.ts';

const SELF = 'owner';

function record(id: string, epoch: number): JobRecord {
  return { id, spec: spec({ idempotencyKey: id }), specDigest: 'd', host: SELF, driver: 'fake', desired: 'running', state: 'placed', epoch, createdAtMs: 0, updatedAtMs: 0 };
}

/** Lets the replicator's awaited pushes run to their next await. */
const microtasks = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

/**
 * A replicator over a scripted client: holder `a` acknowledges at once, `b` only when the test
 * releases its push, `c` is unreachable.
 */
function setup(holders: PeerIdStr[]) {
  const clock = new ManualClock();
  const records = new Map<string, JobRecord>();
  const heldByB: (() => void)[] = [];
  const replicator = new Replicator(defaultReplicatorOptions, {
    self: SELF,
    clock,
    client: {
      push: (peer) => {
        if (peer === 'c') return Promise.reject(new Error('unreachable'));
        if (peer === 'b') return new Promise((resolve) => heldByB.push(() => resolve([])));
        return Promise.resolve([]);
      },
      forget: () => Promise.resolve(),
    },
    records: () => records.values(),
    holders: () => holders,
    onFence: () => undefined,
    onPush: null,
    logger: pino({ level: 'silent' }),
  });
  const step = async (ms = 0): Promise<void> => {
    clock.advance(ms);
    await microtasks();
  };
  const releaseB = async (): Promise<void> => {
    for (const release of heldByB.splice(0)) release();
    await microtasks();
    await step();
  };
  return { clock, records, replicator, step, releaseB };
}

describe('Replicator.confirm: an admitted job is answered only once its record is on the holders', () => {
  it('waits for every reachable holder to acknowledge the record at its epoch; an unreachable one does not hold it up', async () => {
    const { records, replicator, step, releaseB } = setup(['a', 'b', 'c']);
    replicator.start();
    await step(); // the first full sync: a acknowledges, b is slow, c fails
    records.set('j1', record('j1', 2));
    let confirmed: boolean | undefined;
    void replicator.confirm('j1', 2).then((v) => (confirmed = v));
    await step();
    assert.equal(confirmed, undefined, 'b has not acknowledged j1 yet');
    await releaseB(); // b's full sync (without j1) completes; the delta with j1 goes out
    assert.equal(confirmed, undefined, 'b acknowledged only the sync sent before j1 existed');
    await releaseB();
    assert.equal(confirmed, true, 'a and b hold j1 at epoch 2; c is failing and is not waited for');
    replicator.stop();
  });

  it('an older epoch on a holder does not count, and the wait ends false at the timeout', async () => {
    const { records, replicator, step, releaseB } = setup(['a', 'b']);
    replicator.start();
    records.set('j1', record('j1', 1));
    await step();
    await releaseB(); // both hold j1 at epoch 1
    records.set('j1', record('j1', 3)); // re-placed back here at epoch 3
    let confirmed: boolean | undefined;
    void replicator.confirm('j1', 3).then((v) => (confirmed = v));
    await step();
    assert.equal(confirmed, undefined, 'b holds epoch 1 only');
    await step(defaultReplicatorOptions.confirmTimeoutMs);
    assert.equal(confirmed, false, 'gives up at the timeout');
    replicator.stop();
  });

  it('a host without holders has nothing to wait for; a stopped replicator answers false', async () => {
    const { records, replicator, step } = setup([]);
    replicator.start();
    records.set('j1', record('j1', 2));
    let confirmed: boolean | undefined;
    void replicator.confirm('j1', 2).then((v) => (confirmed = v));
    await step();
    assert.equal(confirmed, true);
    replicator.stop();
    assert.equal(await replicator.confirm('j1', 2), false);
  });
});
