import assert from 'node:assert/strict';
import { summaryWireBytes } from '../../../src/gossip/codec.ts';
import { LAST_HEAP_KEY, planDigest, type DigestSource } from '../../../src/gossip/digest-builder.ts';
import type { CellSummary } from '../../../src/gossip/records.ts';
import { heapKey } from '../../../src/gossip/summary-store.ts';
import { summary } from './fixtures.ts';

const BITS = 6;
const keyOf = (s: CellSummary): number => heapKey(s.cellBits, s.cell);

/** One summary per distinct cell at 6 bits, in heap-key order; `issuedAtMs` 0 means stale below. */
function district(n: number, issuedAtMs = 1000): CellSummary[] {
  const byCell = new Map<number, CellSummary>();
  for (let i = 0; byCell.size < n; i++) {
    const s = summary(`rep${i}`, BITS, issuedAtMs, [`rep${i}`, `m${i}a`, `m${i}b`]);
    if (!byCell.has(s.cell)) byCell.set(s.cell, s);
  }
  return [...byCell.values()].sort((a, b) => keyOf(a) - keyOf(b));
}

function source(all: CellSummary[], over: Partial<DigestSource>): DigestSource {
  const byKey = new Map(all.map((s) => [keyOf(s), s]));
  return { dirty: [], byKey: (k) => byKey.get(k), fresh: (s) => s.issuedAtMs > 0, pass: null, byteCap: 6000, ...over };
}

const bytesOf = (ss: readonly CellSummary[]): number => ss.reduce((n, s) => n + summaryWireBytes(s), 0);

describe('digest planning (pure)', () => {
  it('without a pass: changed summaries up to the byte cap; the rest wait; gone or stale ones are settled unsent', () => {
    const all = district(20);
    const one = summaryWireBytes(all[0]!);
    const stale = { ...all[1]!, issuedAtMs: 0 };
    const byKey = new Map(all.map((s) => [keyOf(s), s]));
    byKey.set(keyOf(stale), stale);
    const dirty = [keyOf(stale), 999_999, ...all.slice(2).map(keyOf)];
    const plan = planDigest({ ...source(all, { dirty, byteCap: 4 * one + 10 }), byKey: (k) => byKey.get(k) });
    assert.ok(plan.summaries.length >= 3 && plan.summaries.length <= 4, `about 4 summaries fit, got ${plan.summaries.length}`);
    assert.ok(bytesOf(plan.summaries) <= 4 * one + 10, 'within the cap');
    assert.deepEqual(plan.settled, dirty.slice(0, 2 + plan.summaries.length), 'the stale and the unknown key are settled, then exactly the carried ones');
    assert.equal(plan.covers, null);
    assert.equal(plan.passNext, -1);
  });

  it('a pass goes out over several digests: contiguous ranges from 0 to the last key, each summary once, each digest within the cap', () => {
    const all = district(40);
    const cap = 5 * summaryWireBytes(all[0]!);
    let next = 0;
    const carried: CellSummary[] = [];
    const ranges: [number, number][] = [];
    for (let round = 0; next >= 0; round++) {
      assert.ok(round < 40, 'the pass must end');
      const plan = planDigest(source(all, { pass: { from: next, rest: all.filter((s) => keyOf(s) >= next) }, byteCap: cap }));
      assert.ok(bytesOf(plan.summaries) <= cap, `digest ${round} within the cap`);
      assert.ok(plan.covers, `digest ${round} covers a range`);
      for (const s of plan.summaries) assert.ok(keyOf(s) >= plan.covers[0] && keyOf(s) <= plan.covers[1], 'a carried summary lies in the covered range');
      carried.push(...plan.summaries);
      ranges.push(plan.covers);
      next = plan.passNext;
    }
    assert.ok(ranges.length >= 8, `40 summaries at 5 per digest take 8 digests, took ${ranges.length}`);
    assert.equal(ranges[0]![0], 0);
    assert.equal(ranges.at(-1)![1], LAST_HEAP_KEY);
    for (let i = 1; i < ranges.length; i++) assert.equal(ranges[i]![0], ranges[i - 1]![1] + 1, 'ranges are contiguous');
    assert.deepEqual(carried, all, 'every summary exactly once, in key order');
  });

  it('while a pass runs, changes take at most half the room, and one the pass carries anyway is not sent twice', () => {
    const all = district(40);
    const one = summaryWireBytes(all[0]!);
    const cap = 8 * one;
    const ahead = all[0]!; // the pass carries it first
    const dirty = [keyOf(ahead), ...all.slice(20).map(keyOf)];
    const plan = planDigest(source(all, { dirty, pass: { from: 0, rest: all }, byteCap: cap }));
    const changes = plan.summaries.filter((s) => all.indexOf(s) >= 20);
    const passed = plan.summaries.filter((s) => all.indexOf(s) < 20);
    assert.ok(changes.length >= 2 && changes.length <= 4, `changes get about half of 8 places, got ${changes.length}`);
    assert.ok(passed.length >= 3, `the pass gets the rest, got ${passed.length}`);
    assert.equal(plan.summaries.filter((s) => s === ahead).length, 1, 'a changed summary in the pass goes once');
    assert.ok(plan.settled.includes(keyOf(ahead)), 'and its change is settled');
    assert.ok(bytesOf(plan.summaries) <= cap);
  });

  it('one summary bigger than the cap still goes, alone', () => {
    const all = district(3);
    const plan = planDigest(source(all, { pass: { from: 0, rest: all }, byteCap: 10 }));
    assert.deepEqual(plan.summaries, [all[0]]);
    assert.deepEqual(plan.covers, [0, keyOf(all[1]!) - 1]);
    assert.equal(plan.passNext, keyOf(all[1]!));
  });
});
