import type { Millis } from '../core/clock.ts';

/**
 * A binary min-heap of (deadline, item). Items due at the same instant come out in push
 * order, so a replay from the same seed fires them identically. Entries are never removed
 * early: the owner of an item checks on pop whether it is still due (lazy cancellation).
 */
export class DeadlineQueue<T> {
  private readonly at: Millis[] = [];
  private readonly seq: number[] = [];
  private readonly items: T[] = [];
  private counter = 0;

  get size(): number {
    return this.items.length;
  }

  /** The earliest deadline, or Infinity when empty. */
  peekAt(): Millis {
    return this.at.length === 0 ? Infinity : this.at[0]!;
  }

  push(atMs: Millis, item: T): void {
    let i = this.items.length;
    this.at.push(atMs);
    this.seq.push(this.counter++);
    this.items.push(item);
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!this.less(i, parent)) break;
      this.swap(i, parent);
      i = parent;
    }
  }

  /** Removes and returns the earliest item if it is due at `now`. */
  popDue(now: Millis): T | undefined {
    if (this.items.length === 0 || this.at[0]! > now) return undefined;
    const top = this.items[0]!;
    const last = this.items.length - 1;
    this.swap(0, last);
    this.at.pop();
    this.seq.pop();
    this.items.pop();
    let i = 0;
    const n = this.items.length;
    for (;;) {
      const l = 2 * i + 1;
      const r = l + 1;
      let m = i;
      if (l < n && this.less(l, m)) m = l;
      if (r < n && this.less(r, m)) m = r;
      if (m === i) break;
      this.swap(i, m);
      i = m;
    }
    return top;
  }

  clear(): void {
    this.at.length = 0;
    this.seq.length = 0;
    this.items.length = 0;
  }

  private less(a: number, b: number): boolean {
    return this.at[a]! < this.at[b]! || (this.at[a] === this.at[b] && this.seq[a]! < this.seq[b]!);
  }

  private swap(a: number, b: number): void {
    const t = this.at[a]!;
    this.at[a] = this.at[b]!;
    this.at[b] = t;
    const s = this.seq[a]!;
    this.seq[a] = this.seq[b]!;
    this.seq[b] = s;
    const it = this.items[a]!;
    this.items[a] = this.items[b]!;
    this.items[b] = it;
  }
}
