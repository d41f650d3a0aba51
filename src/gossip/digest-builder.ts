import { MAX_CELL_BITS } from './topics.ts';
import { MAX_SUMMARIES_PER_DIGEST, summaryWireBytes } from './codec.ts';
import { heapKey } from './summary-store.ts';
import type { CellSummary } from './records.ts';

/**
 * What the district reporter's next digest carries: summaries that changed and the next
 * summaries of a refresh pass, up to `byteCap` bytes (the global budget's burst). A refresh
 * once sent the whole district at once, ~90 KB at 100k: the pacer let it through on one
 * burst and every host received 268–537 KB in the second it arrived. A pass now goes out
 * over as many digests as the budget needs.
 */
export interface DigestPlan {
  readonly summaries: CellSummary[];
  /** Dirty keys this digest settles: carried, or no longer worth carrying (gone or stale). */
  readonly settled: number[];
  /** Heap keys of the pass this digest covers (it carries every fresh summary held among them), or null. */
  readonly covers: [number, number] | null;
  /** The heap key the pass goes on from, or -1 when this digest ends it. */
  readonly passNext: number;
}

export interface DigestSource {
  /** Heap keys of summaries changed since the last digest, in order of change. */
  readonly dirty: Iterable<number>;
  readonly byKey: (key: number) => CellSummary | undefined;
  readonly fresh: (s: CellSummary) => boolean;
  /** The refresh pass: its next heap key and the district's summaries from there on, by heap key; null when no pass runs. */
  readonly pass: { readonly from: number; readonly rest: readonly CellSummary[] } | null;
  readonly byteCap: number;
}

/** Covers up to here: the last digest of a pass covers every heap key from its start on. */
export const LAST_HEAP_KEY = 2 ** (MAX_CELL_BITS + 1) - 1;

export function planDigest(src: DigestSource): DigestPlan {
  const summaries: CellSummary[] = [];
  const settled: number[] = [];
  let bytes = 0;
  // The first summary always fits: one bigger than the cap still has to go somewhere.
  const fits = (s: CellSummary, cap: number): boolean => summaries.length === 0 || (summaries.length < MAX_SUMMARIES_PER_DIGEST && bytes + summaryWireBytes(s) <= cap);
  const take = (s: CellSummary): void => {
    summaries.push(s);
    bytes += summaryWireBytes(s);
  };
  const dirty = [...src.dirty];
  let d = 0;
  const takeDirty = (cap: number): void => {
    for (; d < dirty.length; d++) {
      const s = src.byKey(dirty[d]!);
      if (s !== undefined && src.fresh(s) && !summaries.includes(s)) {
        if (!fits(s, cap)) return;
        take(s);
      }
      settled.push(dirty[d]!);
    }
  };
  if (src.pass === null) {
    takeDirty(src.byteCap);
    return { summaries, settled, covers: null, passNext: -1 };
  }
  // Changes first, for freshness, but in at most half the room: under steady churn they
  // would starve the pass (at 100k one pass spans ~15 digests of a district).
  takeDirty(src.byteCap / 2);
  const { from, rest } = src.pass;
  let i = 0;
  while (i < rest.length && (summaries.includes(rest[i]!) || fits(rest[i]!, src.byteCap))) {
    if (!summaries.includes(rest[i]!)) take(rest[i]!);
    i++;
  }
  takeDirty(src.byteCap);
  if (i === rest.length) return { summaries, settled, covers: [from, LAST_HEAP_KEY], passNext: -1 };
  const passNext = heapKey(rest[i]!.cellBits, rest[i]!.cell);
  return { summaries, settled, covers: passNext > from ? [from, passNext - 1] : null, passNext };
}
