import assert from 'node:assert/strict';
import { SeededRng, newJobId, type JobRecord } from '../../../src/core/index.ts';
import { parseJobSpec } from '../../../src/agent/job-service.ts';
import { JobStore, MetaStore, PeerCache, Store } from '../../../src/store/index.ts';
import { useTempStore } from '../../helpers/temp-store.ts';

function job(id: string, key?: string): JobRecord {
  const spec = parseJobSpec({ name: 'j', kind: 'vm', resources: { vcpus: 1, memoryMiB: 64 }, ...(key ? { idempotencyKey: key } : {}) });
  return { id, spec, specDigest: 'd', host: 'h', driver: 'fake', desired: 'running', state: 'placed', epoch: 1, createdAtMs: 1, updatedAtMs: 1 };
}

describe('level stores (real LevelDB on disk)', () => {
  const t = useTempStore();

  it('JobStore writes a job with its idempotency index atomically and reads both back after reopening', async () => {
    const jobs = new JobStore(t.store);
    const id = newJobId(1000, new SeededRng(1));
    await jobs.create(job(id, 'key-1'));
    await t.store.close();
    t.store = await Store.open(t.dir);
    const reopened = new JobStore(t.store);
    assert.equal((await reopened.get(id))?.id, id);
    assert.equal((await reopened.findByIdempotencyKey('default', 'key-1'))?.id, id);
    assert.equal(await reopened.findByIdempotencyKey('other-tenant', 'key-1'), undefined, 'keys are per tenant');
    assert.equal((await reopened.list()).length, 1);
  });

  it('refuses a second opener with STORE_LOCKED', async () => {
    await assert.rejects(Store.open(t.dir), (err: { code: string; message: string }) => err.code === 'STORE_LOCKED' && /in use by another agent/.test(err.message));
  });

  it('MetaStore bumps the incarnation on every start and never goes below a raised one', async () => {
    const meta = new MetaStore(t.store);
    assert.equal(await meta.bumpIncarnation(), 1);
    assert.equal(await meta.bumpIncarnation(), 2);
    await meta.raiseIncarnation(10);
    assert.equal(await meta.bumpIncarnation(), 11);
  });

  it('PeerCache keeps the freshest peers, bounded', async () => {
    const cache = new PeerCache({ maxPeers: 3 }, t.store);
    await cache.remember([1, 2, 3, 4, 5].map((i) => ({ peer: `p${i}`, addrs: [`/ip4/127.0.0.1/tcp/${i}`], seenAtMs: i })));
    await cache.remember([{ peer: 'p1', addrs: ['/ip4/127.0.0.1/tcp/1'], seenAtMs: 100 }]);
    assert.deepEqual((await cache.list()).map((p) => p.peer), ['p1', 'p5', 'p4'], 'freshest first, at most maxPeers');
  });
});
