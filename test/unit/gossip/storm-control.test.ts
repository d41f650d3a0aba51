import assert from 'node:assert/strict';
import fc from 'fast-check';
import { EventQueue } from '../../../src/gossip/event-queue.ts';
import { PublishPacer } from '../../../src/gossip/pacer.ts';

const SEED = Number(process.env.FUZZ_SEED ?? Date.now() % 2 ** 31);

describe('storm control', () => {
  describe('PublishPacer', () => {
    const budget = { msgsPerSec: 1, bytesPerSec: 1000, burstMessages: 2 };

    it('gives each of the topic publishers its share, after a burst', () => {
      const p = new PublishPacer(budget, 0);
      // 10 publishers: each may send one 100-byte message per 10 s, two at once when quiet.
      assert.equal(p.readyAtMs(0, 100, 10), 0);
      p.charge(0, 100, 10);
      assert.equal(p.readyAtMs(0, 100, 10), 0, 'the burst allows a second message at once');
      p.charge(0, 100, 10);
      assert.equal(p.readyAtMs(0, 100, 10), 10_000, 'the third waits for one share: 10 s');
    });

    it('grants a full first burst: a message costlier than the burst goes at once, and its debt holds the next', () => {
      // 10 publishers share 1 msg/s and 1 KB/s: a burst is 20 s of allowance; 30 KB cost 300 s.
      const p = new PublishPacer(budget, 0);
      assert.equal(p.readyAtMs(0, 30_000, 10), 0, 'a message costlier than the burst needs only a full one');
      p.charge(0, 30_000, 10);
      assert.equal(p.credit(0, 10), -280_000, 'its cost beyond the burst is a debt');
      assert.equal(p.readyAtMs(0, 100, 10), 290_000, 'the next waits for the debt and its own share');
    });

    it('charges big messages by bytes, and a forced message leaves a debt', () => {
      const p = new PublishPacer(budget, 0);
      assert.equal(p.costMs(5000, 1), 5000, '5 KB at 1 KB/s costs 5 s, more than the 1 s message share');
      p.charge(0, 100, 1);
      p.charge(0, 100, 1);
      p.charge(0, 100, 1); // a refutation: sent regardless
      assert.ok(p.credit(0, 1) < 0, 'credit may go negative');
      assert.equal(p.readyAtMs(0, 100, 1), 2000, 'the debt is paid before the next paced message');
    });

    it(`never lets a publisher exceed burst + rate × time (fast-check seed ${SEED})`, () => {
      fc.assert(
        fc.property(fc.array(fc.integer({ min: 0, max: 5000 }), { minLength: 1, maxLength: 200 }), fc.integer({ min: 1, max: 50 }), (gaps, publishers) => {
          const p = new PublishPacer(budget, 0);
          let now = 0;
          let sent = 0;
          for (const gap of gaps) {
            now += gap;
            if (p.readyAtMs(now, 100, publishers) <= now) {
              p.charge(now, 100, publishers);
              sent++;
            }
          }
          const allowed = budget.burstMessages + (now * budget.msgsPerSec) / 1000 / publishers;
          assert.ok(sent <= allowed + 1e-9, `sent ${sent} > allowed ${allowed} over ${now} ms with ${publishers} publishers`);
        }),
        { seed: SEED, numRuns: 500 },
      );
    });
  });

  describe('EventQueue', () => {
    it('newer news about a peer replaces older news still queued', () => {
      const q = new EventQueue(8);
      q.push({ kind: 'suspect', peer: 'a', incarnation: 1, confirmations: 0 });
      q.push({ kind: 'suspect', peer: 'b', incarnation: 1, confirmations: 0 });
      q.push({ kind: 'failed', peer: 'a', incarnation: 1, confirmations: 0 });
      assert.equal(q.size, 2, 'one entry per peer');
      assert.deepEqual(
        q.drain().map((e) => `${e.peer}:${e.kind}`),
        ['a:failed', 'b:suspect'],
        'the newer news wins and keeps its place',
      );
      assert.equal(q.size, 0);
    });

    it('is bounded: the oldest entry is dropped and counted', () => {
      const q = new EventQueue(3);
      for (const p of ['a', 'b', 'c', 'd']) q.push({ kind: 'suspect', peer: p, incarnation: 1, confirmations: 0 });
      assert.equal(q.size, 3, 'never above its bound');
      assert.equal(q.dropped, 1, 'the drop is counted');
      assert.deepEqual(q.drain().map((e) => e.peer), ['b', 'c', 'd']);
    });

    it('drops cancelled news', () => {
      const q = new EventQueue(3);
      q.push({ kind: 'suspect', peer: 'a', incarnation: 1, confirmations: 0 });
      q.drop('a');
      assert.equal(q.size, 0);
    });
  });
});
