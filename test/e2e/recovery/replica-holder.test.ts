import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { JobSpecSchema, type JobRecord } from '../../../src/core/job.ts';
import { ReplicaHolder } from '../../../src/agent/recovery/replica-holder.ts';
import { Store } from '../../../src/store/store.ts';
import { ReplicaStore } from '../../../src/store/replica-store.ts';
import { tempDir } from '../../helpers/agent-process.ts';

/** The replica holder on a real LevelDB: what it acknowledged survives a reopen, merge rules included. */

const clock = { now: () => 1_000, schedule: () => ({ cancel: () => undefined }) };

function rec(id: string, over: Partial<JobRecord> = {}): JobRecord {
  return {
    id,
    spec: JobSpecSchema.parse({ name: id, kind: 'vm', resources: { vcpus: 1, memoryMiB: 256 }, idempotencyKey: id }),
    specDigest: 'd',
    host: 'owner-f',
    driver: 'fake',
    desired: 'running',
    state: 'running',
    epoch: 1,
    createdAtMs: 0,
    updatedAtMs: 0,
    ...over,
  };
}

describe('recovery: replica holder on level', () => {
  let dir: string;
  let store: Store;

  beforeEach(async () => {
    dir = tempDir('shoal-replicas-');
    store = await Store.open(dir);
  });
  afterEach(async () => {
    await store.close().catch(() => undefined);
    rmSync(dir, { recursive: true, force: true });
  });

  async function reopen(): Promise<ReplicaHolder> {
    await store.close();
    store = await Store.open(dir);
    const h = new ReplicaHolder({ store: new ReplicaStore(store), clock });
    await h.load();
    return h;
  }

  it('keeps acknowledged pushes, outcomes and the holder list across a reopen; a full sync drops what the owner no longer has', async () => {
    const h = new ReplicaHolder({ store: new ReplicaStore(store), clock });
    await h.load();
    await h.applyPush('owner-f', { holders: ['me', 'other'], records: [rec('a'), rec('b'), rec('c')], removed: [], ids: ['a', 'b', 'c'] });
    await h.recordOutcomes('owner-f', [{ jobId: 'a', outcome: { type: 'replaced', host: 'x', epoch: 2, reason: 'moved', atMs: 5, by: 'me' } }]);
    await h.applyPush('owner-f', { holders: ['me', 'other'], records: [], removed: ['c'] });

    const again = await reopen();
    assert.deepEqual(again.holdersOf('owner-f'), ['me', 'other'], 'holder list survives');
    assert.deepEqual([...again.jobsOf('owner-f')].map((j) => [j.jobId, j.settled]), [['a', true], ['b', false]], 'c removed, a settled');
    assert.equal(again.lookup('owner-f', 'a')!.state, 'fenced', 'a replaced copy reads as fenced');
    assert.deepEqual(again.replacedOutcomes('owner-f').map((o) => o.jobId), ['a']);

    // The owner comes back with its old copy of a: it is told to fence it; b's push is plain.
    const notices = await again.applyPush('owner-f', { holders: ['me', 'other'], records: [rec('a'), rec('b', { state: 'placed' })], removed: [], ids: ['a', 'b'] });
    assert.deepEqual(notices, [{ jobId: 'a', host: 'x', epoch: 2 }], 'fence notice for the replaced copy only');
    await again.applyPush('owner-f', { holders: ['me'], records: [rec('d')], removed: [], ids: ['d'] });
    const third = await reopen();
    assert.deepEqual([...third.jobsOf('owner-f')].map((j) => j.jobId), ['d'], 'a full sync drops the rest');
    await third.forget('owner-f');
    const fourth = await reopen();
    assert.equal([...fourth.owners()].length, 0, 'forget removes the owner for good');
  });

  it('skips an entry that does not parse instead of failing to start', async () => {
    const h = new ReplicaHolder({ store: new ReplicaStore(store), clock });
    await h.load();
    await h.applyPush('owner-f', { holders: ['me'], records: [rec('good')], removed: [] });
    await store.sublevel('replicas').put('owner-f\u0000bad', { owner: 'owner-f', record: { id: 'bad', epoch: 'x' } });
    await store.sublevel('replica-sets').put('junk', 42);
    await store.close();
    store = await Store.open(dir);
    const again = new ReplicaHolder({ store: new ReplicaStore(store), clock });
    assert.deepEqual(await again.load(), { skipped: 2 }, 'two bad values reported');
    assert.deepEqual([...again.jobsOf('owner-f')].map((j) => j.jobId), ['good'], 'the good entry is kept');
  });

  it('marks replaceable only jobs with a placement id and a key, and wantsRunning only live ones', async () => {
    const h = new ReplicaHolder({ store: new ReplicaStore(store), clock });
    await h.load();
    const placementId = '01m816r56h28xj2j78f65s';
    await h.applyPush('owner-f', { holders: ['me'], records: [rec(placementId), rec('imported1234'), rec('stopped1', { state: 'stopped' })], removed: [] });
    const jobs = new Map([...h.jobsOf('owner-f')].map((j) => [j.jobId, j]));
    assert.equal(jobs.get(placementId)!.replaceable, true);
    assert.equal(jobs.get('imported1234')!.replaceable, false, 'not a placement job id: no key owner to re-place through');
    assert.equal(jobs.get('stopped1')!.wantsRunning, false);
  });
});
