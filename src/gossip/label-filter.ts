import { hash32 } from '../core/hash.ts';

/**
 * The `key=value` host labels of a summary bucket, as a Bloom filter: 256 bits, 4 probes per
 * label. A router asks only "may this bucket hold a host labelled rack=rk12?", and the
 * contact of the chosen cell checks the real host records, so a false "maybe" costs a detour
 * and never a wrong placement.
 *
 * Why not the labels themselves: a bucket of ~16 hosts in a zone of 40 racks listed ~13 rack
 * labels, 400 of a summary's ~850 bytes at 100k, and summaries are what the global digests
 * carry. A list also had to be cut (32 labels), and a label cut off made its hosts
 * unroutable; the filter holds any number, at a false-positive rate that grows with them:
 * ~0.1% at 13 labels, 2.4% at 32, 4.7% at 40 (a cluster summary's bucket over a zone's 40
 * racks), 16% at 64.
 *
 * Filters of several buckets merge by OR (a cluster summary over its cells' buckets).
 * No labels at all is the empty array, so a bucket without labels pays 2 bytes, not 34.
 */
export type LabelFilter = Uint8Array;

export const LABEL_FILTER_BYTES = 32;
const BIT_MASK = LABEL_FILTER_BYTES * 8 - 1; // 255: one byte of a probe is one bit index

export const NO_LABELS: LabelFilter = new Uint8Array(0);

/** A label's 4 bit indexes, one per byte of its hash32 (the stable hash cells are chosen by). */
export function labelProbe(pair: string): number {
  return hash32(pair);
}

/** Sets a label's bits in a filter of LABEL_FILTER_BYTES. */
function addProbe(filter: Uint8Array, probe: number): void {
  for (let shift = 0; shift < 32; shift += 8) {
    const bit = (probe >>> shift) & BIT_MASK;
    filter[bit >>> 3]! |= 1 << (bit & 7);
  }
}

/** Whether the filter may hold the label (false: it surely does not). */
export function mayHaveLabel(filter: LabelFilter, probe: number): boolean {
  if (filter.length === 0) return false;
  for (let shift = 0; shift < 32; shift += 8) {
    const bit = (probe >>> shift) & BIT_MASK;
    if ((filter[bit >>> 3]! & (1 << (bit & 7))) === 0) return false;
  }
  return true;
}

/** A filter of `key=value` pairs: NO_LABELS for none. */
export function labelFilterOf(pairs: Iterable<string>): LabelFilter {
  let f = NO_LABELS;
  for (const pair of pairs) {
    if (f === NO_LABELS) f = new Uint8Array(LABEL_FILTER_BYTES);
    addProbe(f, labelProbe(pair));
  }
  return f;
}

/** A host's labels as a filter: cached per labels object, which a host's records share until its labels change. */
const hostFilters = new WeakMap<Readonly<Record<string, string>>, LabelFilter>();

export function hostLabelFilter(labels: Readonly<Record<string, string>>): LabelFilter {
  let f = hostFilters.get(labels);
  if (f === undefined) {
    f = labelFilterOf(Object.entries(labels).map(([k, v]) => `${k}=${v}`));
    hostFilters.set(labels, f);
  }
  return f;
}

/** ORs `from` into `into` (NO_LABELS, or a filter the caller owns: it is written to); returns the result. */
export function mergeLabelFilter(into: LabelFilter, from: LabelFilter): LabelFilter {
  if (from.length === 0) return into;
  const out = into.length === 0 ? new Uint8Array(LABEL_FILTER_BYTES) : into;
  for (let i = 0; i < LABEL_FILTER_BYTES; i++) out[i]! |= from[i]!;
  return out;
}

export function sameLabelFilter(a: LabelFilter, b: LabelFilter): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
