import assert from 'node:assert/strict';
import { mean, quantile, ratePerS, ratio, relativeError, summarize } from '../../../bench/stats.ts';

describe('bench stats', () => {
  it('quantile uses nearest rank: p99 of 1..100 is 99, p50 is 50, p100 is the max', () => {
    const xs = Array.from({ length: 100 }, (_, i) => 100 - i); // unsorted on purpose
    assert.equal(quantile(xs, 0.99), 99, 'p99 of 1..100 by nearest rank');
    assert.equal(quantile(xs, 0.5), 50, 'p50 of 1..100 by nearest rank');
    assert.equal(quantile(xs, 1), 100, 'p100 is the largest value');
    assert.equal(quantile(xs, 0), 1, 'p0 is the smallest value');
  });

  it('quantile of one value is that value; of none is null; out of range throws', () => {
    assert.equal(quantile([7], 0.99), 7, 'a single sample is every quantile');
    assert.equal(quantile([], 0.5), null, 'no samples: no quantile');
    assert.throws(() => quantile([1], 1.5), RangeError, 'q above 1 must be refused');
  });

  it('summarize gives count, mean, p50, p99 and max, and nulls for no values', () => {
    assert.deepEqual(summarize([1, 2, 3, 4]), { count: 4, mean: 2.5, p50: 2, p99: 4, max: 4 }, 'summary of 1..4');
    assert.deepEqual(summarize([]), { count: 0, mean: null, p50: null, p99: null, max: null }, 'summary of nothing');
    assert.equal(mean([]), null, 'mean of nothing is null, not NaN');
  });

  it('ratio and relative error refuse missing or zero references', () => {
    assert.equal(ratio(3, 2), 1.5, '3 ÷ 2');
    assert.equal(ratio(3, 0), null, 'division by zero gives null');
    assert.equal(ratio(null, 2), null, 'missing numerator gives null');
    assert.ok(Math.abs(relativeError(1.1, 1)! - 0.1) < 1e-12, '(1.1 − 1) ÷ 1 is +10%');
    assert.equal(relativeError(0.5, 1), -0.5, 'an underestimate is negative');
    assert.equal(relativeError(1, 0), null, 'zero reference gives null');
  });

  it('ratePerS scales a counter delta to one second and refuses a non-positive interval', () => {
    assert.equal(ratePerS(100, 600, 2000), 250, '500 over 2 s');
    assert.throws(() => ratePerS(0, 1, 0), RangeError, 'zero elapsed time must throw');
  });
});
