import { hash32, type PeerIdStr } from '../../src/core/index.ts';

/**
 * Ground truth the metrics compare views against: which hosts run, since when, when they
 * went down, and which live hosts fall in a given cell. Cells are hash prefixes, so hosts
 * sorted by hash make every cell a contiguous range found by binary search.
 */
export class Truth {
  readonly hash: Uint32Array;
  readonly startedAtMs: Float64Array;
  /** When the host last went down (crash or leave); NaN while up. */
  readonly downAtMs: Float64Array;
  /** 1 when the last down was a crash (vs a graceful leave). */
  readonly crashed: Uint8Array;
  private readonly alive: Uint8Array;
  private readonly sortedHash: Uint32Array;
  private readonly order: Int32Array;

  constructor(ids: readonly PeerIdStr[], alive: Uint8Array) {
    const n = ids.length;
    this.alive = alive;
    this.hash = new Uint32Array(n);
    this.startedAtMs = new Float64Array(n).fill(NaN);
    this.downAtMs = new Float64Array(n).fill(NaN);
    this.crashed = new Uint8Array(n);
    for (let i = 0; i < n; i++) this.hash[i] = hash32(ids[i]!);
    const order = Array.from({ length: n }, (_, i) => i).sort((a, b) => this.hash[a]! - this.hash[b]! || a - b);
    this.order = Int32Array.from(order);
    this.sortedHash = Uint32Array.from(order.map((i) => this.hash[i]!));
  }

  started(i: number, nowMs: number): void {
    this.startedAtMs[i] = nowMs;
    this.downAtMs[i] = NaN;
    this.crashed[i] = 0;
  }

  wentDown(i: number, nowMs: number, crash: boolean): void {
    this.downAtMs[i] = nowMs;
    this.crashed[i] = crash ? 1 : 0;
  }

  cellOf(i: number, bits: number): number {
    return bits <= 0 ? 0 : this.hash[i]! >>> (32 - bits);
  }

  /** Calls `fn` for every live host in `cell` at `bits`; returns how many. */
  forLiveInCell(bits: number, cell: number, fn: ((host: number) => void) | null): number {
    const [lo, hi] = this.range(bits, cell);
    let n = 0;
    for (let k = lo; k < hi; k++) {
      const h = this.order[k]!;
      if (!this.alive[h]) continue;
      n++;
      fn?.(h);
    }
    return n;
  }

  /** Number of cells at `bits` that hold at least one live host. */
  nonEmptyCells(bits: number): number {
    const cells = 2 ** bits;
    let n = 0;
    for (let c = 0; c < cells; c++) if (this.anyLiveInCell(bits, c)) n++;
    return n;
  }

  anyLiveInCell(bits: number, cell: number): boolean {
    const [lo, hi] = this.range(bits, cell);
    for (let k = lo; k < hi; k++) if (this.alive[this.order[k]!]) return true;
    return false;
  }

  private range(bits: number, cell: number): [number, number] {
    if (bits <= 0) return [0, this.order.length];
    const span = 2 ** (32 - bits);
    return [this.lowerBound(cell * span), this.lowerBound((cell + 1) * span)];
  }

  private lowerBound(h: number): number {
    let lo = 0;
    let hi = this.sortedHash.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.sortedHash[mid]! < h) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }
}
