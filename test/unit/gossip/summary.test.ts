import assert from 'node:assert/strict';
import fc from 'fast-check';
import { labelProbe, mayHaveLabel } from '../../../src/gossip/label-filter.ts';
import type { CellSummary, MemberView } from '../../../src/gossip/index.ts';
import { SUMMARY_SHAPES, summarizeCell } from '../../../src/gossip/index.ts';
import { summaryChanged } from '../../../src/gossip/summary.ts';
import { SeededRng } from '../../../src/core/rng.ts';
import { SummaryStore, heapKey } from '../../../src/gossip/summary-store.ts';
import { districtOf } from '../../../src/gossip/topics.ts';
import { record, summary } from './fixtures.ts';

const view = (peer: string, over: Parameters<typeof record>[1] = {}, status: MemberView['status'] = 'alive'): MemberView => ({ record: record(peer, over), status, updatedAtMs: 0 });

/** Cell 0 of a one-cell layout, reported by `a`. */
const summarizeOne = (members: MemberView[], now = 0): CellSummary => summarizeCell({ cluster: 'test', cell: 0, cellBits: 0, reporter: 'a', now, contacts: [], members });

function fake(cell: number, cellBits: number, issuedAtMs: number, members = 10, reporter = `r${cell}`): CellSummary {
  return { cluster: 'test', cell, cellBits, reporter, issuedAtMs, members, buckets: [], contacts: [] };
}

describe('cell summaries', () => {
  it('bucket placeable hosts by zone and driver set; count every live member', () => {
    const s = summarizeOne(
      [
        view('a', { zone: 'z1', free: { vcpus: 32, memoryMiB: 131072, diskGiB: 1000 } }),
        view('b', { zone: 'z1', free: { vcpus: 1, memoryMiB: 1024, diskGiB: 10 } }),
        view('c', { zone: 'z2' }),
        view('d', { zone: 'z1', health: 'degraded' }),
        view('e', { zone: 'z1', draining: true }),
        view('f', { zone: 'z1' }, 'suspect'),
        view('g', { zone: 'z1' }, 'failed'),
      ],
      1234.7,
    );
    assert.equal(s.members, 6, 'alive and suspect members count; failed ones do not');
    assert.equal(s.issuedAtMs, 1234, 'integer milliseconds on the wire');
    assert.deepEqual(s.buckets.map((b) => [b.zone, b.hosts]), [['z1', 2], ['z2', 1]], 'degraded, draining and suspect hosts take no placements');
    const z1 = s.buckets[0]!;
    assert.deepEqual(z1.fits, [2, 1, 1, 1, 1, 1], 'b fits only the smallest shape; a fits all of them');
    assert.deepEqual(z1.maxFree, { vcpus: 32, memoryMiB: 131072, diskGiB: 1000 });
    assert.equal(z1.totalFree.vcpus, 33);
    assert.ok(mayHaveLabel(z1.labelFilter, labelProbe('energy=hydro')), 'labels present in the bucket are in its filter');
    assert.ok(!mayHaveLabel(z1.labelFilter, labelProbe('energy=coal')), 'others are not (at 1 label, a false positive is ~1 in 10^6)');
    assert.equal(z1.fits.length, SUMMARY_SHAPES.length);
  });

  it('an overcommitted host (negative free) offers nothing: no fits, no free capacity, no maximum', () => {
    const s = summarizeOne([view('a', { free: { vcpus: -4, memoryMiB: -1024, diskGiB: -1 } }), view('b', { free: { vcpus: 2, memoryMiB: 2048, diskGiB: 10 } })]);
    const [b] = s.buckets;
    assert.equal(b!.hosts, 2, 'it is still a placeable host');
    assert.deepEqual(b!.totalFree, { vcpus: 2, memoryMiB: 2048, diskGiB: 10 }, 'its deficit does not eat into the others\' free capacity');
    assert.deepEqual(b!.maxFree, { vcpus: 2, memoryMiB: 2048, diskGiB: 10 });
    assert.equal(b!.fits[0], 1, 'only b fits the smallest shape');
  });

  it('only significant changes are news', () => {
    const a = summary('a', 0, 1, Array.from({ length: 30 }, (_, i) => `m${i}`));
    assert.equal(summaryChanged(undefined, a, 0.1), true, 'the first summary is news');
    assert.equal(summaryChanged(a, { ...a, issuedAtMs: 99 }, 0.1), false, 'a new timestamp alone is not');
    assert.equal(summaryChanged(a, { ...a, members: 31 }, 0.1), false, 'one more member in 30 is under 10%');
    assert.equal(summaryChanged(a, { ...a, members: 40 }, 0.1), true);
    const b = a.buckets[0]!;
    const moved = (fits: number[]) => ({ ...a, buckets: [{ ...b, fits }, ...a.buckets.slice(1)] });
    assert.equal(summaryChanged(a, moved(b.fits.map((f) => f)), 0.1), false);
    assert.equal(summaryChanged(a, moved(b.fits.map((f, i) => (i === 5 ? 0 : f))), 0.1), true, 'a shape that stops fitting anywhere is news');
    assert.equal(summaryChanged(a, { ...a, contacts: [] }, 0.1), true, 'new contacts are news');
  });
});

describe('SummaryStore', () => {
  it('keeps the newest summary per cell; ties go to the lower-hash reporter', () => {
    const st = new SummaryStore(2);
    assert.equal(st.put(fake(1, 2, 100)), 'new');
    assert.equal(st.put(fake(1, 2, 90)), 'stale');
    assert.equal(st.put(fake(1, 2, 100)), 'stale', 'the same summary twice');
    assert.equal(st.put(fake(1, 2, 110, 12)), 'new');
    assert.equal(st.get(1)!.members, 12);
    const x = fake(2, 2, 500, 1, 'x');
    const y = fake(2, 2, 500, 2, 'y');
    st.put(x);
    const second = st.put(y);
    const winner = st.get(2)!.reporter;
    assert.equal(second === 'new', winner === 'y', 'put reports whether it replaced');
    const st2 = new SummaryStore(2);
    st2.put(y);
    st2.put(x);
    assert.equal(st2.get(2)!.reporter, winner, 'the tie-break does not depend on arrival order');
  });

  it('a newer layout replaces overlapping summaries at other cellBits, and never counts hosts twice', () => {
    const st = new SummaryStore(1);
    st.put(fake(1, 1, 100, 40)); // cell 1 of 2
    assert.equal(st.put(fake(2, 2, 50, 20)), 'stale', 'an older child of a newer parent is stale');
    assert.equal(st.put(fake(2, 2, 200, 20)), 'new', 'a newer child replaces its parent');
    assert.equal(st.get(1), undefined, 'the parent is gone');
    assert.equal(st.evidence().members, 20);
    st.put(fake(3, 2, 210, 22));
    assert.equal(st.evidence().members, 42);
    assert.ok(Math.abs(st.evidence().coverage - 0.5) < 1e-12, 'two quarter cells cover half the space');
    assert.equal(st.put(fake(1, 1, 300, 41)), 'new', 'a newer merge replaces both children');
    assert.equal(st.evidence().members, 41);
    assert.equal(st.size, 1);
  });

  it('tells a cell that split or merged from a gap (coveredNearby)', () => {
    const st = new SummaryStore(2);
    st.put(fake(0, 2, 100));
    assert.equal(st.coveredNearby(1), false, 'one layout only: every missing cell is a gap');
    st.put(fake(2, 3, 110)); // cell 1 split: its first child (key 2·5 = 10, cell 2 of 8)
    assert.equal(st.coveredNearby(1), true, 'a child of cell 1 is held');
    assert.equal(st.coveredNearby(2), false, 'cell 2 is still a gap');
    st.put(fake(1, 1, 120)); // cells 2 and 3 merged into cell 1 of 2
    assert.equal(st.coveredNearby(3), true, 'their parent is held');
  });

  it('reindexes on a change of cellBits and reports the majority layout', () => {
    const st = new SummaryStore(1);
    st.put(fake(0, 1, 1, 10));
    st.put(fake(2, 2, 2, 5));
    st.put(fake(3, 2, 3, 5));
    assert.equal(st.majorityBits(), -1, 'half and half: no majority');
    st.setCellBits(2);
    assert.equal(st.get(2)!.members, 5);
    assert.equal(st.get(0), undefined, 'the 1-bit summary lives aside now');
    assert.equal(st.size, 3);
    st.put(fake(0, 2, 9, 4));
    assert.equal(st.majorityBits(), 2, 'three quarters at 2 bits');
  });

  it('pages through every summary in key order, whatever the page size', () => {
    const st = new SummaryStore(4);
    for (let c = 0; c < 16; c += 2) st.put(fake(c, 4, c + 1));
    st.put(fake(1, 3, 100)); // cell 1 at 3 bits overlaps cells 2 and 3 at 4 bits: replaces cell 2
    const seen: number[] = [];
    let cursor = 0;
    for (let guard = 0; guard < 20 && cursor >= 0; guard++) {
      const { summaries, next } = st.page(cursor, 3);
      for (const s of summaries) seen.push(heapKey(s.cellBits, s.cell));
      cursor = next;
    }
    assert.deepEqual(seen, [...seen].sort((a, b) => a - b), 'key order');
    assert.equal(seen.length, st.size, 'every summary exactly once');
  });

  it("finds a contact in a district: never self, the current layout first, another layout's only without one", () => {
    const withContacts = (s: CellSummary, ...peers: string[]): CellSummary => ({ ...s, contacts: peers.map((peer) => ({ peer, addrs: [] })) });
    const st = new SummaryStore(4); // districtBits 2: district 1 is cells 4..7
    const rng = new SeededRng(7);
    assert.equal(st.contactIn(1, 2, rng, 'me'), undefined, 'nothing known');
    st.put(withContacts(fake(2, 3, 5), 'old-layout')); // cell 2 at 3 bits = cells 4..5 at 4 bits
    assert.equal(st.contactIn(1, 2, rng, 'me')?.peer, 'old-layout', 'only another layout knows the district');
    st.put(withContacts(fake(6, 4, 10), 'me'));
    st.put(withContacts(fake(7, 4, 10), 'me', 'b'));
    st.put(withContacts(fake(8, 4, 10), 'c')); // district 2
    const picked = new Set<string>();
    for (let i = 0; i < 50; i++) picked.add(st.contactIn(1, 2, rng, 'me')!.peer);
    assert.deepEqual([...picked], ['b'], 'the current layout wins; self and other districts never');
  });

  const SEED = Number(process.env.FUZZ_SEED ?? Date.now() % 2 ** 31);
  it(`counts known cells per district as a scan would, through puts, expiry and layout changes (seed ${SEED}; FUZZ_SEED=… to replay)`, () => {
    const op = fc.oneof(
      fc.record({ put: fc.tuple(fc.integer({ min: 7, max: 9 }), fc.nat(511), fc.nat(1000)) }),
      fc.record({ expire: fc.nat(1000) }),
      fc.record({ bits: fc.integer({ min: 7, max: 9 }) }),
    );
    fc.assert(
      fc.property(fc.array(op, { maxLength: 200 }), (ops) => {
        const st = new SummaryStore(8); // 8 bits: 4 districts of 64 cells
        for (const o of ops) {
          if ('put' in o) st.put(fake(o.put[1] % 2 ** o.put[0], o.put[0], o.put[2]));
          else if ('expire' in o) st.expire(o.expire);
          else st.setCellBits(o.bits);
        }
        const bits = st.cellBits;
        const scanned = new Map<number, number>();
        for (let cell = 0; cell < 2 ** bits; cell++) if (st.get(cell) !== undefined) scanned.set(districtOf(cell, bits), (scanned.get(districtOf(cell, bits)) ?? 0) + 1);
        for (let d = 0; d < 2 ** (bits - 6); d++) assert.equal(st.knownIn(d), scanned.get(d) ?? 0, `district ${d} at ${bits} bits`);
      }),
      { seed: SEED, numRuns: 300 },
    );
  });

  it(`answers a repair's bitmap with exactly the cells it lacks, from its cell on, wrapping (seed ${SEED}; FUZZ_SEED=… to replay)`, () => {
    // Cell masks by byte, with whole bytes held or lacking (the bitmap's fast path) and mixed ones.
    const mask = fc.array(fc.oneof(fc.constant(0xff), fc.constant(0), fc.integer({ min: 0, max: 255 })), { minLength: 64, maxLength: 64 });
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 9 }), mask, mask, fc.nat(511), fc.integer({ min: 1, max: 70 }), (bits, ours, theirs, from, limit) => {
        const cells = 2 ** bits;
        const server = new SummaryStore(bits);
        const asker = new SummaryStore(bits);
        for (let c = 0; c < cells; c++) {
          if ((ours[c >>> 3]! >> (c & 7)) & 1) server.put(fake(c, bits, 1));
          if ((theirs[c >>> 3]! >> (c & 7)) & 1) asker.put(fake(c, bits, 1));
        }
        const have = asker.haveBitmap();
        for (let c = 0; c < cells; c++) assert.equal((have[c >>> 3]! >> (c & 7)) & 1, asker.get(c) === undefined ? 0 : 1, `bit of cell ${c}`);
        const want: number[] = [];
        for (let i = 0; i < cells; i++) {
          const c = ((from % cells) + i) % cells;
          if (server.get(c) !== undefined && asker.get(c) === undefined) want.push(c);
        }
        assert.deepEqual(server.lacking(have, from % cells, limit).map((s) => s.cell), want.slice(0, limit));
      }),
      { seed: SEED, numRuns: 500 },
    );
  });

  it('expires summaries past their TTL and iterates a district', () => {
    const st = new SummaryStore(8);
    for (let c = 0; c < 256; c += 16) st.put(fake(c, 8, c));
    assert.equal(st.expire(100), 7, 'cells 0..96 were issued before 100');
    assert.equal([...st.district(2, 2)].length, 4, 'district 2 of 4 holds cells 128..191');
    assert.equal(st.expire(100), 0, 'nothing left to expire');
    // A repair may bring a summary older than any held: it must still expire on time.
    st.put(fake(1, 8, 50));
    st.put(fake(3, 7, 60));
    assert.equal(st.expire(55), 1, 'the late arrival issued at 50');
    assert.equal(st.expire(120), 2, 'the one at 60 (another cellBits) and cell 112');
  });
});
