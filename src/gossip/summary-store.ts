import type { Millis } from '../core/clock.ts';
import { hash32 } from '../core/hash.ts';
import type { SizeEvidence } from './cell-bits.ts';
import type { Rng } from '../core/rng.ts';
import type { CellSummary, Contact } from './records.ts';
import { MAX_CELL_BITS, districtBitsOf, districtOf } from './topics.ts';

/**
 * Every known cell summary. Summaries at the node's current cellBits live in a dense array
 * indexed by cell (at 100k hosts: 2,048 slots, 16 KB of pointers per node, which is what
 * lets the simulator hold 100k views); summaries at other cellBits (a split or merge in
 * progress) live in a side map keyed by heap index 2^bits + cell, whose ancestors and
 * descendants are found by shifting.
 *
 * Rule for overlaps: a summary replaces older summaries of the same cell and of any cell
 * that overlaps it at other cellBits; if an overlapping one is newer, the incoming one is
 * stale. The newest layout wins and no host is counted twice in the size estimate.
 */
export type PutResult = 'new' | 'stale';

/**
 * Whether `a` replaces `b`, two summaries of the same cell: the newer one, and on a tie
 * (two members that both believed they were the reporter in the same millisecond) the one
 * whose reporter has the lower hash, which is the reporter by the rule every member applies.
 */
export function supersedes(a: CellSummary, b: CellSummary): boolean {
  if (a.issuedAtMs !== b.issuedAtMs) return a.issuedAtMs > b.issuedAtMs;
  if (a.reporter === b.reporter) return false;
  const ha = hash32(a.reporter);
  const hb = hash32(b.reporter);
  return ha !== hb ? ha < hb : a.reporter < b.reporter;
}

export function heapKey(cellBits: number, cell: number): number {
  return 2 ** cellBits + cell;
}

/** The cellBits of a heap key (its highest set bit); the cell is `key - 2 ** keyBits(key)`. */
export function keyBits(key: number): number {
  return 31 - Math.clz32(key);
}

/** Bytes of a layout's bitmap of known cells (one bit a cell, at least one byte). */
export function haveBytes(cellBits: number): number {
  return Math.max(1, 2 ** cellBits / 8);
}

export class SummaryStore {
  private bits: number;
  private slots: (CellSummary | undefined)[];
  private readonly others = new Map<number, CellSummary>();
  private sumMembers = 0;
  private occupied = 0;
  /** Known cells of the current cellBits per district: a repair finds districts with gaps without a scan of every cell. */
  private knownByDistrict: Uint16Array;
  private readonly coverageByBits = new Float64Array(MAX_CELL_BITS + 1);
  /** No stored summary was issued before this (a lower bound): lets `expire` skip its scan. */
  private oldestIssuedMs = Infinity;

  constructor(cellBits: number) {
    this.bits = cellBits;
    this.slots = new Array<CellSummary | undefined>(2 ** cellBits);
    this.knownByDistrict = new Uint16Array(2 ** districtBitsOf(cellBits));
  }

  get cellBits(): number {
    return this.bits;
  }

  get size(): number {
    return this.occupied + this.others.size;
  }

  /** Cells of the current cellBits whose summary is known. */
  get occupiedCells(): number {
    return this.occupied;
  }

  /** Known cells of the current cellBits in `district` (districts as `districtOf` numbers them). */
  knownIn(district: number): number {
    return this.knownByDistrict[district] ?? 0;
  }

  /** Mean members per known summary (0 when none). */
  get meanMembers(): number {
    const n = this.size;
    return n > 0 ? this.sumMembers / n : 0;
  }

  /** A contact other than `self` of a random known cell of the current cellBits, or undefined. A few random probes, no scan. */
  randomContact(rng: Rng, self: string): Contact | undefined {
    if (this.occupied === 0) return undefined;
    for (let tries = 0; tries < 8; tries++) {
      const s = this.slots[rng.int(this.slots.length)];
      const c = s?.contacts.find((x) => x.peer !== self);
      if (c !== undefined) return c;
    }
    return undefined;
  }

  /**
   * A contact other than `self` of a random known cell of `district`: the current layout's
   * cells first, the other layouts' only when none of those is known. One draw per pick (a
   * draw per contact was a twentieth of a cold start's time, four repairs a round).
   */
  contactIn(district: number, districtBits: number, rng: Rng, self: string): Contact | undefined {
    const known: CellSummary[] = [];
    if (this.bits >= districtBits) {
      const span = 2 ** (this.bits - districtBits);
      for (let cell = district * span; cell < (district + 1) * span; cell++) {
        const s = this.slots[cell];
        if (s !== undefined && s.contacts.some((c) => c.peer !== self)) known.push(s);
      }
    }
    if (known.length === 0) {
      for (const s of this.others.values()) {
        if (s.cellBits >= districtBits && Math.floor(s.cell / 2 ** (s.cellBits - districtBits)) === district && s.contacts.some((c) => c.peer !== self)) known.push(s);
      }
    }
    if (known.length === 0) return undefined;
    const contacts = known[rng.int(known.length)]!.contacts.filter((c) => c.peer !== self);
    return contacts[rng.int(contacts.length)];
  }

  /** The summary of `cell` at the current cellBits. */
  get(cell: number): CellSummary | undefined {
    return this.slots[cell];
  }

  /** Whether we hold a summary of `cell`'s parent or of a child (a split or merge in progress). */
  coveredNearby(cell: number): boolean {
    if (this.others.size === 0) return false;
    const key = heapKey(this.bits, cell);
    return (this.bits > 0 && this.others.has(key >>> 1)) || (this.bits < MAX_CELL_BITS && (this.others.has(2 * key) || this.others.has(2 * key + 1)));
  }

  /** Fraction of the hash space the known summaries cover (overlaps are never both kept). */
  get coverage(): number {
    let c = 0;
    for (let b = 0; b < this.coverageByBits.length; b++) c += this.coverageByBits[b]!;
    return c;
  }

  /** The summary stored under a heap key, at whatever cellBits it has. */
  getByKey(key: number): CellSummary | undefined {
    return this.lookup(key, keyBits(key));
  }

  private lookup(key: number, bits: number): CellSummary | undefined {
    return bits === this.bits ? this.slots[key - 2 ** bits] : this.others.get(key);
  }

  private remove(key: number, bits: number): void {
    const s = this.lookup(key, bits);
    if (!s) return;
    if (bits === this.bits) {
      const cell = key - 2 ** bits;
      this.slots[cell] = undefined;
      this.occupied--;
      this.knownByDistrict[districtOf(cell, bits)]!--;
    } else {
      this.others.delete(key);
    }
    this.sumMembers -= s.members;
    this.coverageByBits[bits]! -= 2 ** -bits;
  }

  private insert(s: CellSummary): void {
    if (s.issuedAtMs < this.oldestIssuedMs) this.oldestIssuedMs = s.issuedAtMs;
    if (s.cellBits === this.bits) {
      this.slots[s.cell] = s;
      this.occupied++;
      this.knownByDistrict[districtOf(s.cell, s.cellBits)]!++;
    } else {
      this.others.set(heapKey(s.cellBits, s.cell), s);
    }
    this.sumMembers += s.members;
    this.coverageByBits[s.cellBits]! += 2 ** -s.cellBits;
  }

  /** Stores `s` unless something at least as new covers the same hosts. */
  put(s: CellSummary): PutResult {
    const key = heapKey(s.cellBits, s.cell);
    const same = this.lookup(key, s.cellBits);
    if (same && !supersedes(s, same)) return 'stale';
    // Only a second layout (a split or merge in progress) can hold overlapping cells.
    const layered = this.others.size > 0 || s.cellBits !== this.bits;
    if (layered && this.overlapAsNew(key, s)) return 'stale';
    if (same) this.remove(key, s.cellBits);
    if (layered) this.removeOverlaps(key, s.cellBits);
    this.insert(s);
    return 'new';
  }

  /**
   * Whether a summary of an overlapping cell at other cellBits is as new as `s`. Overlaps are
   * ancestors at every level and descendants two levels down (a layout moves one bit at a
   * time, so deeper ones only exist after a very long partition); removeOverlaps drops the same set.
   */
  private overlapAsNew(key: number, s: CellSummary): boolean {
    for (let b = s.cellBits - 1, k = key >>> 1; b >= 0; b--, k >>>= 1) {
      const o = this.lookup(k, b);
      if (o && o.issuedAtMs >= s.issuedAtMs) return true;
    }
    for (let d = 1; d <= 2 && s.cellBits + d <= MAX_CELL_BITS; d++) {
      const first = key * 2 ** d;
      for (let k = first; k < first + 2 ** d; k++) {
        const o = this.lookup(k, s.cellBits + d);
        if (o && o.issuedAtMs >= s.issuedAtMs) return true;
      }
    }
    return false;
  }

  private removeOverlaps(key: number, bits: number): void {
    for (let b = bits - 1, k = key >>> 1; b >= 0; b--, k >>>= 1) this.remove(k, b);
    for (let d = 1; d <= 2 && bits + d <= MAX_CELL_BITS; d++) {
      const first = key * 2 ** d;
      for (let k = first; k < first + 2 ** d; k++) this.remove(k, bits + d);
    }
  }

  /** Re-indexes for a new cellBits: O(known summaries), once per split or merge. */
  setCellBits(bits: number): void {
    if (bits === this.bits) return;
    const all = [...this.values()];
    this.bits = bits;
    this.slots = new Array<CellSummary | undefined>(2 ** bits);
    this.others.clear();
    this.occupied = 0;
    this.knownByDistrict = new Uint16Array(2 ** districtBitsOf(bits));
    for (const s of all) {
      if (s.cellBits === bits) {
        this.slots[s.cell] = s;
        this.occupied++;
        this.knownByDistrict[districtOf(s.cell, bits)]!++;
      } else {
        this.others.set(heapKey(s.cellBits, s.cell), s);
      }
    }
  }

  /**
   * Drops summaries issued before `oldestMs`. O(slots) only when one is due: every node runs
   * this every few seconds, and a scan of 2,048 slots each time was O(N²) work for the
   * simulator at 100k.
   */
  expire(oldestMs: Millis): number {
    if (oldestMs <= this.oldestIssuedMs) return 0;
    let dropped = 0;
    let oldest = Infinity;
    for (let cell = 0; cell < this.slots.length; cell++) {
      const s = this.slots[cell];
      if (!s) continue;
      if (s.issuedAtMs < oldestMs) {
        this.remove(heapKey(this.bits, cell), this.bits);
        dropped++;
      } else if (s.issuedAtMs < oldest) oldest = s.issuedAtMs;
    }
    for (const [key, s] of this.others) {
      if (s.issuedAtMs < oldestMs) {
        this.remove(key, s.cellBits);
        dropped++;
      } else if (s.issuedAtMs < oldest) oldest = s.issuedAtMs;
    }
    this.oldestIssuedMs = oldest;
    return dropped;
  }

  /** Every known summary: current cellBits in cell order, then the others. No copy. */
  *values(): IterableIterator<CellSummary> {
    const slots = this.slots;
    for (let i = 0; i < slots.length; i++) {
      const s = slots[i];
      if (s) yield s;
    }
    yield* this.others.values();
  }

  /** Summaries of the cells of one district (`districtCellBits` low bits of the cell id), current cellBits first. */
  *district(district: number, districtBits: number): IterableIterator<CellSummary> {
    if (this.bits >= districtBits) {
      const span = 2 ** (this.bits - districtBits);
      const first = district * span;
      for (let cell = first; cell < first + span; cell++) {
        const s = this.slots[cell];
        if (s) yield s;
      }
    }
    for (const s of this.others.values()) {
      if (s.cellBits >= districtBits && Math.floor(s.cell / 2 ** (s.cellBits - districtBits)) === district) yield s;
    }
  }

  /** Paging for sync responses: summaries with heap key > `after`, in key order, at most `limit`. */
  page(after: number, limit: number): { summaries: CellSummary[]; next: number } {
    // Heap keys order by (cellBits, cell): coarser others, then the slots, then finer others.
    // O(limit + others), so a joiner paging through 2,048 summaries costs the seed little.
    const others = [...this.others.keys()].filter((k) => k > after).sort((a, b) => a - b);
    const out: CellSummary[] = [];
    const base = 2 ** this.bits;
    let i = 0;
    for (; i < others.length && others[i]! < base && out.length < limit; i++) out.push(this.others.get(others[i]!)!);
    for (let cell = Math.max(0, after + 1 - base); cell < base && out.length < limit; cell++) {
      const s = this.slots[cell];
      if (s) out.push(s);
    }
    for (; i < others.length && out.length < limit; i++) if (others[i]! >= base) out.push(this.others.get(others[i]!)!);
    if (out.length < limit) return { summaries: out, next: -1 };
    const last = out[out.length - 1]!;
    return { summaries: out, next: heapKey(last.cellBits, last.cell) };
  }

  /** The cells of the current cellBits we hold a summary of, as a bitmap (bit c of byte c >> 3). */
  haveBitmap(): Uint8Array {
    const out = new Uint8Array(haveBytes(this.bits));
    const slots = this.slots;
    for (let cell = 0; cell < slots.length; cell++) if (slots[cell] !== undefined) out[cell >>> 3]! |= 1 << (cell & 7);
    return out;
  }

  /**
   * Up to `limit` summaries of the current cellBits that a requester with the bitmap `have`
   * (of the same layout) lacks, from cell `from` on, wrapping around: a repair gets only what
   * it misses, from anywhere, instead of a page of what it mostly has.
   */
  lacking(have: Uint8Array, from: number, limit: number): CellSummary[] {
    const out: CellSummary[] = [];
    const n = this.slots.length;
    for (let i = 0; i < n && out.length < limit; i++) {
      const cell = (from + i) % n;
      // A byte of held cells skips eight at once (most of a nearly whole view).
      if ((cell & 7) === 0 && have[cell >>> 3] === 0xff && i + 8 <= n) {
        i += 7;
        continue;
      }
      const s = this.slots[cell];
      if (s !== undefined && (have[cell >>> 3]! & (1 << (cell & 7))) === 0) out.push(s);
    }
    return out;
  }

  evidence(): SizeEvidence {
    return { members: this.sumMembers, coverage: this.coverage, occupiedCells: this.occupied };
  }

  /** The cellBits used by summaries covering more than half the hash space, or -1. */
  majorityBits(): number {
    for (let b = 0; b < this.coverageByBits.length; b++) if (this.coverageByBits[b]! > 0.5 + 1e-9) return b;
    return -1;
  }
}
