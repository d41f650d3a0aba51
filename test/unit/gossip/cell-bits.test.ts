import assert from 'node:assert/strict';
import fc from 'fast-check';
import { CellBitsController, estimateClusterSize, initialCellBits, linearCount, nextCellBits } from '../../../src/gossip/cell-bits.ts';

const SEED = Number(process.env.FUZZ_SEED ?? Date.now() % 2 ** 31);
const ctl = (over: Partial<{ cellBits: number | null; expectedClusterSize: number }> = {}) =>
  new CellBitsController({ cellBits: null, expectedClusterSize: 1, targetCellSize: 48, cellSizeHysteresis: 0.5, cellBitsDwellMs: 60_000, ...over }, 0);

describe('cell bits', () => {
  it('start from the hint so a cold start of 100k does not begin in one giant cell', () => {
    assert.equal(initialCellBits(1, 48), 0, 'no hint: one cell');
    assert.equal(initialCellBits(200, 48), 2, '200 hosts: 4 cells of 50');
    assert.equal(initialCellBits(100_000, 48), 11, '100k hosts: 2048 cells of ~49');
  });

  it('split above target × 1.5 and merge below target × 0.5, one bit at a time', () => {
    assert.equal(nextCellBits(0, 72, 48, 0.5), 0, 'mean 72 is not above 72');
    assert.equal(nextCellBits(0, 73, 48, 0.5), 1, 'mean 73 splits');
    assert.equal(nextCellBits(0, 10_000, 48, 0.5), 1, 'never more than one bit per step');
    assert.equal(nextCellBits(1, 48, 48, 0.5), 1, 'mean 24 is not below 24');
    assert.equal(nextCellBits(1, 47, 48, 0.5), 0, 'mean 23.5 merges');
    assert.equal(nextCellBits(0, 1, 48, 0.5), 0, 'cannot merge below 0 bits');
  });

  it(`a split or merge never undoes itself for any hysteresis above 1/3 (fast-check seed ${SEED})`, () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 20 }), fc.double({ min: 1, max: 1e7, noNaN: true }), fc.double({ min: 0.34, max: 0.99, noNaN: true }), fc.integer({ min: 2, max: 200 }), (bits, est, h, target) => {
        const next = nextCellBits(bits, est, target, h);
        if (next !== bits) assert.notEqual(nextCellBits(next, est, target, h), bits, `bits ${bits} → ${next} → back at estimate ${est}, h ${h}, target ${target}`);
      }),
      { seed: SEED, numRuns: 2000 },
    );
  });

  it('linear counting estimates a sparse cluster from occupied cells', () => {
    assert.ok(Math.abs(linearCount(10, 2048) - 10) < 0.1, '10 hosts in 10 of 2048 cells');
    assert.ok(linearCount(1500, 2048) > 2500, 'a dense occupancy means several hosts per cell');
    assert.equal(linearCount(0, 2048), 0);
  });

  it('the estimate extrapolates with enough coverage, else trusts the hint until warm, then counts', () => {
    assert.equal(estimateClusterSize({ members: 500, coverage: 0.5, occupiedCells: 10 }, 5, 0.5, 1, false), 1000, 'extrapolates half the hash space');
    assert.equal(estimateClusterSize({ members: 10, coverage: 10 / 2048, occupiedCells: 10 }, 11, 0.5, 100_000, false), 100_000, 'cold: keeps the hint');
    const warm = estimateClusterSize({ members: 10, coverage: 10 / 2048, occupiedCells: 10 }, 11, 0.5, 100_000, true);
    assert.ok(warm >= 10 && warm < 11, `warm with 10 hosts in 10 cells: about 10, got ${warm}`);
  });

  it('the controller waits out its dwell time between two changes of its own', () => {
    const c = ctl();
    c.reset(0);
    assert.equal(c.decide(30_000, 1000, -1), null, 'within the dwell');
    assert.deepEqual(c.decide(60_000, 1000, -1), { bits: 1, reason: 'estimate' });
    assert.equal(c.decide(61_000, 1000, -1), null, 'a second step must wait another dwell');
    assert.deepEqual(c.decide(121_000, 1000, -1), { bits: 2, reason: 'estimate' });
  });

  it('a merge by estimate waits three dwell times: the hosts that shrank the estimate may only be cut off', () => {
    const c = ctl({ expectedClusterSize: 48 * 8 }); // starts at 3 bits
    assert.equal(c.bits, 3);
    assert.equal(c.decide(60_000, 100, -1), null, 'one dwell is enough to split, not to merge');
    assert.equal(c.decide(179_000, 100, -1), null, 'still within three dwells');
    assert.deepEqual(c.decide(180_000, 100, -1), { bits: 2, reason: 'estimate' });
    assert.deepEqual(c.decide(181_000, 1, 3, false), { bits: 3, reason: 'follow' }, 'following the majority is not held by any dwell');
  });

  it('laggards follow the majority at once; leaders are not pulled back', () => {
    const lag = ctl();
    lag.reset(0);
    assert.deepEqual(lag.decide(1000, 200, 2), { bits: 1, reason: 'follow' }, 'towards its own estimate: follow without waiting');
    assert.deepEqual(lag.decide(6000, 200, 2), { bits: 2, reason: 'follow' });
    const lead = ctl({ expectedClusterSize: 200 });
    lead.reset(0);
    assert.equal(lead.bits, 2);
    assert.equal(lead.decide(1000, 200, 1), null, 'estimate 200 makes 1 bit unstable: do not go back');
    const odd = ctl({ expectedClusterSize: 60 });
    odd.reset(0);
    assert.equal(odd.bits, 0);
    assert.deepEqual(odd.decide(1000, 60, 1), { bits: 1, reason: 'follow' }, 'a majority layout my estimate finds stable is followed');
  });

  it('an early splitter near the threshold is not pulled back by the majority it is ahead of', () => {
    // A 20% join wave takes 1,000 hosts in 16 cells (mean 62.5) to 1,150: mean 71.9, next to
    // the split threshold of 72. Estimates differ by ~1% among nodes: those over 72 split
    // first. The majority's 4 bits is stable for 1,145 only without margin: stay at 5.
    const early = ctl({ expectedClusterSize: 1000 });
    early.reset(0);
    assert.equal(early.bits, 4);
    assert.deepEqual(early.decide(60_000, 1160, -1), { bits: 5, reason: 'estimate' });
    assert.equal(early.decide(61_000, 1145, 4), null, '4 bits is stable for 1,145 but not for 1,145 × 1.05');
    // A node whose estimate fell far (a partition) follows a majority layout that is clearly stable.
    const wrong = ctl({ expectedClusterSize: 1000 });
    wrong.reset(0);
    assert.deepEqual(wrong.decide(180_000, 300, -1), { bits: 3, reason: 'estimate' });
    assert.deepEqual(wrong.decide(181_000, 500, 4), { bits: 4, reason: 'follow' }, '500 / 16 = 31: well inside 4 bits\' band');
  });

  it('a fixed cellBits never changes; a joiner adopts the cluster layout', () => {
    const fixed = ctl({ cellBits: 2 });
    assert.equal(fixed.decide(1e9, 1e6, 5), null);
    assert.equal(fixed.adopt(7, 0), null);
    const joiner = ctl();
    assert.deepEqual(joiner.adopt(6, 10), { bits: 6, reason: 'join' });
  });

  it('a joiner steps by its estimate at once: the layout it joined is the cluster\'s, not a change of its own', () => {
    // A 20% join wave takes a 1k cluster over the split threshold. The newcomers joined at the
    // old 4 bits; held by a dwell of their own they stayed there while everyone split, and
    // their reporters' newer 4-bit summaries replaced the 5-bit ones in every store.
    const newcomer = ctl({ expectedClusterSize: 1000 });
    newcomer.reset(270_000);
    assert.equal(newcomer.decide(272_000, 1200, 4), null, 'before joining, the start holds it');
    newcomer.joined(272_000);
    assert.deepEqual(newcomer.decide(283_000, 1200, 4), { bits: 5, reason: 'estimate' }, 'joined: no dwell of its own to wait out');
    assert.equal(newcomer.decide(284_000, 2400, -1), null, 'its own split starts a dwell as usual');
    const shrinking = ctl({ expectedClusterSize: 1000 });
    shrinking.joined(10_000);
    assert.equal(shrinking.decide(11_000, 300, -1), null, 'a merge still waits out its longer dwell');
  });
});
