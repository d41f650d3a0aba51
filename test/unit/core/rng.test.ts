import assert from 'node:assert/strict';
import { SeededRng, sample, shuffled } from '../../../src/core/index.ts';

describe('SeededRng', () => {
  it('replays the same stream from the same seed', () => {
    const a = new SeededRng(42);
    const b = new SeededRng(42);
    const xs = Array.from({ length: 100 }, () => a.next());
    const ys = Array.from({ length: 100 }, () => b.next());
    assert.deepEqual(xs, ys, 'same seed must give the same sequence');
  });

  it('differs across seeds and stays in [0, 1)', () => {
    const a = new SeededRng(1);
    const b = new SeededRng(2);
    let same = 0;
    for (let i = 0; i < 1000; i++) {
      const x = a.next();
      const y = b.next();
      assert.ok(x >= 0 && x < 1, `value ${x} out of [0,1)`);
      if (x === y) same++;
    }
    assert.ok(same < 5, `seeds 1 and 2 gave ${same} equal draws out of 1000`);
  });

  it('forks independent, reproducible streams', () => {
    const root = new SeededRng(7);
    const f1 = root.fork('node-1').next();
    const f1again = new SeededRng(7).fork('node-1').next();
    const f2 = root.fork('node-2').next();
    assert.equal(f1, f1again, 'a fork is a function of (seed, label)');
    assert.notEqual(f1, f2, 'different labels give different streams');
  });

  it('int(n) covers [0, n) roughly uniformly', () => {
    const rng = new SeededRng(3);
    const counts = new Array(10).fill(0);
    for (let i = 0; i < 10000; i++) counts[rng.int(10)]++;
    for (const c of counts) assert.ok(c > 800 && c < 1200, `bucket count ${c} far from 1000`);
  });

  it('sample and shuffled return distinct items of the input', () => {
    const rng = new SeededRng(9);
    const items = Array.from({ length: 20 }, (_, i) => i);
    const s = sample(items, 5, rng);
    assert.equal(new Set(s).size, 5);
    assert.deepEqual(shuffled(items, rng).sort((a, b) => a - b), items);
  });
});
