import type { HostRecord } from './records.ts';

/**
 * Joiners of other cells that pushed their record to us, so the next joiner of the same
 * cell learns them from our sync answer. At a bootstrap no summary exists yet, and two
 * hosts of one cell that both joined through a seed of another cell would otherwise only
 * find each other when the first cell summary goes out, seconds later.
 *
 * Bounded: `perCell` newest records per cell, `cells` cells (oldest cell dropped first).
 */
export class RendezvousCache {
  private readonly byCell = new Map<number, HostRecord[]>();
  private readonly perCell: number;
  private readonly cells: number;

  constructor(perCell: number, cells: number) {
    this.perCell = perCell;
    this.cells = cells;
  }

  /** Remembers `record` (of a host in `cell`), replacing an older record of the same host. */
  add(cell: number, record: HostRecord): void {
    let list = this.byCell.get(cell);
    if (!list) {
      if (this.byCell.size >= this.cells) this.byCell.delete(this.byCell.keys().next().value as number);
      list = [];
      this.byCell.set(cell, list);
    }
    const i = list.findIndex((r) => r.origin === record.origin);
    if (i >= 0) list.splice(i, 1);
    list.push(record);
    if (list.length > this.perCell) list.shift();
  }

  /** The remembered hosts of `cell`, except `not`. */
  of(cell: number, not: string): readonly HostRecord[] {
    const list = this.byCell.get(cell);
    if (!list) return [];
    return list.filter((r) => r.origin !== not);
  }

  clear(): void {
    this.byCell.clear();
  }
}
