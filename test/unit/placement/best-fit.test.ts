import assert from 'node:assert/strict';
import fc from 'fast-check';
import type { Resources } from '../../../src/core/resources.ts';
import { DeadlineQueue, bestFitPack } from '../../../src/placement/index.ts';
import { FC_SEED, fcParams } from './fixtures.ts';

const H: Resources = { vcpus: 16, memoryMiB: 65536, diskGiB: 500 };

describe(`placement bestFitPack baseline (fast-check seed ${FC_SEED})`, () => {
  it('packs identical jobs into the minimum number of identical hosts', () => {
    const jobs = Array.from({ length: 37 }, () => ({ vcpus: 4, memoryMiB: 8192, diskGiB: 10 }));
    const r = bestFitPack(Array.from({ length: 20 }, () => H), jobs);
    assert.equal(r.placed, 37, 'all fit');
    assert.equal(r.hostsUsed, 10, '4 per host: ceil(37/4) = 10 hosts');
  });

  it('puts a job on the used host it leaves fullest, not the first that fits', () => {
    const hosts = [H, H, H];
    const jobs = [
      { vcpus: 8, memoryMiB: 32768, diskGiB: 0 }, // host 0, half full
      { vcpus: 14, memoryMiB: 57344, diskGiB: 0 }, // does not fit host 0: opens host 1 (2 vCPUs left)
      { vcpus: 2, memoryMiB: 8192, diskGiB: 0 }, // fits both; host 1 is left fuller
    ];
    const r = bestFitPack(hosts, jobs);
    assert.deepEqual([...r.assignment], [0, 1, 1], 'the small job goes to the tighter host 1');
    assert.equal(r.hostsUsed, 2);
  });

  it('opens the largest unused host first and reports jobs that fit nowhere', () => {
    const small = { vcpus: 4, memoryMiB: 8192, diskGiB: 50 };
    const r = bestFitPack([small, H], [{ vcpus: 8, memoryMiB: 1024, diskGiB: 0 }, { vcpus: 64, memoryMiB: 1, diskGiB: 0 }]);
    assert.deepEqual([...r.assignment], [1, -1], 'the big host takes the job; the 64-vCPU job fits nowhere');
    assert.equal(r.unplaced, 1);
  });

  it('never overcommits, counts used hosts right, and leaves out only jobs no host has room for', () => {
    const res = fc.record({ vcpus: fc.integer({ min: 1, max: 16 }), memoryMiB: fc.integer({ min: 1, max: 65536 }), diskGiB: fc.integer({ min: 0, max: 500 }) });
    fc.assert(
      fc.property(fc.array(res, { minLength: 1, maxLength: 12 }), fc.array(res, { maxLength: 80 }), (hosts, jobs) => {
        for (const order of ['arrival', 'decreasing'] as const) {
          const r = bestFitPack(hosts, jobs, { order, grid: 8 });
          const used = hosts.map(() => ({ vcpus: 0, memoryMiB: 0, diskGiB: 0 }));
          r.assignment.forEach((h, j) => {
            if (h < 0) return;
            used[h]!.vcpus += jobs[j]!.vcpus;
            used[h]!.memoryMiB += jobs[j]!.memoryMiB;
            used[h]!.diskGiB += jobs[j]!.diskGiB;
          });
          used.forEach((u, i) => {
            const c = hosts[i]!;
            assert.ok(u.vcpus <= c.vcpus && u.memoryMiB <= c.memoryMiB && u.diskGiB <= c.diskGiB, `${order}: host ${i} overcommitted`);
          });
          assert.equal(r.hostsUsed, used.filter((u) => u.vcpus > 0).length, `${order}: hostsUsed counts hosts holding jobs`);
          assert.equal(r.placed + r.unplaced, jobs.length);
          // Free capacity only shrinks, so a job that fit nowhere when its turn came fits nowhere at the end.
          r.assignment.forEach((h, j) => {
            if (h >= 0) return;
            const fitsSomewhere = hosts.some((c, i) => {
              const u = used[i]!;
              const w = jobs[j]!;
              return w.vcpus <= c.vcpus - u.vcpus && w.memoryMiB <= c.memoryMiB - u.memoryMiB && w.diskGiB <= c.diskGiB - u.diskGiB;
            });
            assert.ok(!fitsSomewhere, `${order}: job ${j} was left out although a host still had room for it`);
          });
        }
      }),
      fcParams(200),
    );
  });

  it('handles 100,000 hosts and 300,000 jobs in seconds', function () {
    this.timeout(60_000);
    const hosts = Array.from({ length: 100_000 }, () => H);
    const sizes = [
      { vcpus: 1, memoryMiB: 2048, diskGiB: 10 },
      { vcpus: 2, memoryMiB: 8192, diskGiB: 20 },
      { vcpus: 4, memoryMiB: 16384, diskGiB: 40 },
      { vcpus: 8, memoryMiB: 32768, diskGiB: 80 },
    ];
    const jobs = Array.from({ length: 300_000 }, (_, i) => sizes[(i * 7919) % 4]!);
    const t0 = performance.now();
    const r = bestFitPack(hosts, jobs);
    const ms = performance.now() - t0;
    console.log(`      100k hosts, 300k jobs: ${r.hostsUsed} hosts used, ${ms.toFixed(0)} ms`);
    assert.equal(r.placed, 300_000);
    assert.ok(ms < 20_000, `bestFitPack took ${ms.toFixed(0)} ms`);
  });
});

describe('placement DeadlineQueue', () => {
  it('pops in deadline order, equal deadlines in push order, and only when due', () => {
    const q = new DeadlineQueue<string>();
    q.push(30, 'c');
    q.push(10, 'a1');
    q.push(20, 'b');
    q.push(10, 'a2');
    q.push(10, 'a3');
    assert.equal(q.peekAt(), 10);
    assert.equal(q.popDue(9), undefined, 'nothing is due before 10');
    const out: string[] = [];
    for (let x = q.popDue(25); x !== undefined; x = q.popDue(25)) out.push(x);
    assert.deepEqual(out, ['a1', 'a2', 'a3', 'b'], 'time order, ties in push order');
    assert.equal(q.size, 1);
    assert.equal(q.peekAt(), 30);
  });

  it('matches a sorted reference on random pushes', () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 0, max: 50 }), { maxLength: 200 }), (ats) => {
        const q = new DeadlineQueue<number>();
        ats.forEach((at, i) => q.push(at, i));
        const ref = ats.map((at, i) => [at, i] as const).sort((a, b) => a[0] - b[0] || a[1] - b[1]);
        const out: number[] = [];
        for (let x = q.popDue(Infinity); x !== undefined; x = q.popDue(Infinity)) out.push(x);
        assert.deepEqual(out, ref.map(([, i]) => i), 'heap order must equal a stable sort by deadline');
      }),
      fcParams(200),
    );
  });

  it('peekAt is the earliest deadline held through random pushes, pops and clears', () => {
    const op = fc.oneof(fc.record({ push: fc.integer({ min: 0, max: 50 }) }), fc.record({ popUntil: fc.integer({ min: 0, max: 60 }) }), fc.constant({ clear: true }));
    fc.assert(
      fc.property(fc.array(op, { maxLength: 100 }), (ops) => {
        const q = new DeadlineQueue<number>();
        let held: number[] = [];
        for (const o of ops) {
          if ('push' in o) {
            q.push(o.push, held.length);
            held.push(o.push);
          } else if ('popUntil' in o) {
            while (q.popDue(o.popUntil) !== undefined);
            held = held.filter((at) => at > o.popUntil);
          } else {
            q.clear();
            held = [];
          }
          assert.equal(q.peekAt(), held.length === 0 ? Infinity : Math.min(...held), `after ${JSON.stringify(o)}`);
        }
      }),
      fcParams(200),
    );
  });
});
