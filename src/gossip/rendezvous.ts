import type { Rng } from '../core/rng.ts';
import type { HostRecord } from './records.ts';

/**
 * Joiners of other cells that pushed their record to us, so the next joiner of the same
 * cell learns them from our sync answer. At a bootstrap no summary exists yet, and two
 * hosts of one cell that both joined through a seed of another cell would otherwise only
 * find each other when the first cell summary goes out, seconds later.
 *
 * Every sync request pushes its sender's record, so a node that serves summary repairs also
 * learns hosts of districts it has never heard a digest of: `anyIn` hands it one to ask.
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

  /** A random remembered host of a cell in [`fromCell`, `toCell`), except `not`. */
  anyIn(fromCell: number, toCell: number, rng: Rng, not: string): HostRecord | undefined {
    const found: HostRecord[] = [];
    const take = (list: readonly HostRecord[] | undefined): void => {
      if (list !== undefined) for (const r of list) if (r.origin !== not) found.push(r);
    };
    if (toCell - fromCell <= this.byCell.size) for (let cell = fromCell; cell < toCell; cell++) take(this.byCell.get(cell));
    else for (const [cell, list] of this.byCell) if (cell >= fromCell && cell < toCell) take(list);
    return found.length === 0 ? undefined : found[rng.int(found.length)];
  }

  clear(): void {
    this.byCell.clear();
  }
}
