import assert from 'node:assert/strict';
import fc from 'fast-check';
import { QuotaLedger, keyToken, type RemoteJob } from '../../../src/federation/index.ts';
import { FC_SEED, fcParams } from './fixtures.ts';

const u = (vcpus: number, memoryMiB = 0) => ({ vcpus, memoryMiB });
const remote = (jobId: string, origin: string, tenant: string, vcpus: number, key = jobId): RemoteJob => ({ jobId, origin, tenant, keyToken: keyToken(tenant, key), vcpus, memoryMiB: vcpus * 1024 });

describe('federation: quota ledger', () => {
  it('counts an in-flight placement, then the job, never both', () => {
    const l = new QuotaLedger();
    assert.equal(l.reserve('t/k1', 'a', 't', u(4, 1024)), true);
    assert.deepEqual(l.usage('a', 't'), { cluster: u(4, 1024), tenant: u(4, 1024) });
    assert.equal(l.reserve('t/k1', 'a', 't', u(4, 1024)), false, 'a second reservation of the same key counts nothing');
    l.settle('t/k1', 'job1');
    assert.deepEqual(l.usage('a', 't').cluster, u(4, 1024), 'settling moves the reservation to the job');
    assert.equal(l.holds('t/k1'), true, 'the key stays held by its job');
    l.remove('job1');
    assert.deepEqual(l.usage('a', 't').cluster, u(0, 0));
    assert.equal(l.holds('t/k1'), false);
  });

  it('a failed placement releases its reservation', () => {
    const l = new QuotaLedger();
    l.reserve('t/k', 'a', 't', u(8));
    l.release('t/k');
    assert.deepEqual(l.usage('a', 't').cluster, u(0));
    assert.equal(l.pending, 0);
  });

  it('a recount replaces settled jobs but keeps in-flight ones and those settled during the listing', () => {
    const l = new QuotaLedger();
    l.reserve('t/old', 'a', 't', u(2));
    l.settle('t/old', 'old');
    const gen = l.beginRecount();
    l.reserve('t/new', 'a', 't', u(3));
    l.settle('t/new', 'new'); // settled while the listing ran: the listing may miss it
    l.reserve('t/flying', 'a', 't', u(5));
    l.replace([remote('listed', 'a', 't', 7), remote('other', 'c', 'u', 1)], gen);
    assert.deepEqual(l.usage('a', 't').cluster, u(7 + 3 + 5, (7 + 0) * 1024), 'listed 7 + settled-during-listing 3 + in flight 5');
    assert.equal(l.holds('t/old'), false, 'a job the listing no longer shows is gone');
    assert.deepEqual(l.usage('c', 'u').cluster, { vcpus: 1, memoryMiB: 1024 });
  });

  it(`running totals equal a recomputation after any sequence of operations (seed ${FC_SEED})`, () => {
    const op = fc.oneof(
      fc.record({ t: fc.constant('reserve' as const), k: fc.integer({ min: 0, max: 5 }), o: fc.constantFrom('a', 'c'), n: fc.constantFrom('t1', 't2'), v: fc.integer({ min: 1, max: 8 }) }),
      fc.record({ t: fc.constant('settle' as const), k: fc.integer({ min: 0, max: 5 }) }),
      fc.record({ t: fc.constant('release' as const), k: fc.integer({ min: 0, max: 5 }) }),
      fc.record({ t: fc.constant('remove' as const), k: fc.integer({ min: 0, max: 5 }) }),
    );
    fc.assert(
      fc.property(fc.array(op, { maxLength: 60 }), (ops) => {
        const l = new QuotaLedger();
        const pending = new Map<string, { o: string; n: string; v: number }>();
        const jobs = new Map<string, { o: string; n: string; v: number }>();
        for (const x of ops) {
          const token = `k${x.k}`;
          if (x.t === 'reserve') {
            const held = pending.has(token) || [...jobs.keys()].some((j) => j === `job-${token}`);
            assert.equal(l.reserve(token, x.o, x.n, u(x.v)), !held, 'reserve succeeds only for a key not held');
            if (!held) pending.set(token, { o: x.o, n: x.n, v: x.v });
          } else if (x.t === 'settle') {
            l.settle(token, `job-${token}`);
            const p = pending.get(token);
            if (p) {
              pending.delete(token);
              jobs.set(`job-${token}`, p);
            }
          } else if (x.t === 'release') {
            l.release(token);
            pending.delete(token);
          } else {
            l.remove(`job-${token}`);
            jobs.delete(`job-${token}`);
          }
          for (const o of ['a', 'c']) {
            const want = [...pending.values(), ...jobs.values()].filter((e) => e.o === o).reduce((s, e) => s + e.v, 0);
            assert.equal(l.usage(o, 'none').cluster.vcpus, want, `cluster ${o} usage after ${x.t} ${token}`);
          }
          for (const n of ['t1', 't2']) {
            const want = [...pending.values(), ...jobs.values()].filter((e) => e.n === n).reduce((s, e) => s + e.v, 0);
            assert.equal(l.usage('none', n).tenant.vcpus, want, `tenant ${n} usage after ${x.t} ${token}`);
          }
        }
      }),
      fcParams(300),
    );
  });
});
