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

    it('grants only primedFraction of the first burst, so publishers that start together spread out', () => {
      // 10 publishers share 1 msg/s: a full burst is 2 messages' worth, 20 s of allowance.
      const full = new PublishPacer(budget, 0);
      assert.equal(full.readyAtMs(0, 100, 10), 0, 'a full first burst sends at once');
      const quarter = new PublishPacer(budget, 0, 0.25);
      assert.equal(quarter.credit(0, 10), 5000, 'a quarter of the burst: 5 s of allowance');
      assert.equal(quarter.readyAtMs(0, 100, 10), 5000, 'one message costs 10 s: it waits for the other 5');
      const big = new PublishPacer(budget, 0, 0.25);
      assert.equal(big.readyAtMs(0, 30_000, 10), 15_000, 'a message costlier than the burst waits for a full burst, not its whole cost');
      assert.throws(() => new PublishPacer(budget, 0, 1.5), /primedFraction/);
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
