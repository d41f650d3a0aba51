import { fitsIn, type Resources } from '../core/resources.ts';
import { NO_LABELS, mergeLabelFilter, type LabelFilter } from './label-filter.ts';
import { SUMMARY_SHAPES, type CellBucket } from './records.ts';

const nonNegative = (n: number): number => (n > 0 ? n : 0);

/**
 * Running totals of one bucket (a zone × driver set): a cell's reporter adds its placeable
 * hosts, a federation gateway adds its cells' buckets, and both build the same `CellBucket`,
 * so placement's bucket checks read either.
 */
export class BucketTotals {
  readonly zone: string;
  readonly drivers: CellBucket['drivers'];
  private hosts = 0;
  private readonly fits: number[] = SUMMARY_SHAPES.map(() => 0);
  private maxV = 0;
  private maxM = 0;
  private maxD = 0;
  private freeV = 0;
  private freeM = 0;
  private freeD = 0;
  private capV = 0;
  private capM = 0;
  private capD = 0;
  private labelFilter: LabelFilter = NO_LABELS;

  constructor(zone: string, drivers: CellBucket['drivers']) {
    this.zone = zone;
    this.drivers = drivers;
  }

  /** One placeable host. Negative free capacity (an overcommitted host) counts as none. */
  addHost(free: Resources, capacity: Resources, labelFilter: LabelFilter): void {
    this.hosts++;
    for (let i = 0; i < SUMMARY_SHAPES.length; i++) if (fitsIn(SUMMARY_SHAPES[i]!, free)) this.fits[i]!++;
    const v = nonNegative(free.vcpus);
    const m = nonNegative(free.memoryMiB);
    const d = nonNegative(free.diskGiB);
    this.add(v, m, d, v, m, d);
    this.capV += capacity.vcpus;
    this.capM += capacity.memoryMiB;
    this.capD += capacity.diskGiB;
    this.labelFilter = mergeLabelFilter(this.labelFilter, labelFilter);
  }

  /** Every host of another bucket (a cell's, into its cluster's). */
  addBucket(b: CellBucket): void {
    this.hosts += b.hosts;
    for (let i = 0; i < this.fits.length; i++) this.fits[i]! += b.fits[i] ?? 0;
    const { maxFree: m, totalFree: t } = b;
    this.add(m.vcpus, m.memoryMiB, m.diskGiB, t.vcpus, t.memoryMiB, t.diskGiB);
    this.capV += b.totalCapacity.vcpus;
    this.capM += b.totalCapacity.memoryMiB;
    this.capD += b.totalCapacity.diskGiB;
    this.labelFilter = mergeLabelFilter(this.labelFilter, b.labelFilter);
  }

  /** The bucket, with `hosts` and `fits` clamped at `maxCount` (what the wire carries). */
  toBucket(maxCount = Infinity): CellBucket {
    return {
      zone: this.zone,
      drivers: this.drivers,
      hosts: Math.min(this.hosts, maxCount),
      fits: this.fits.map((n) => Math.min(n, maxCount)),
      maxFree: { vcpus: this.maxV, memoryMiB: this.maxM, diskGiB: this.maxD },
      totalFree: { vcpus: this.freeV, memoryMiB: this.freeM, diskGiB: this.freeD },
      // Capacity ≥ free on each host, but clamp anyway so the decoder's totalFree ≤ totalCapacity holds.
      totalCapacity: { vcpus: Math.max(this.capV, this.freeV), memoryMiB: Math.max(this.capM, this.freeM), diskGiB: Math.max(this.capD, this.freeD) },
      labelFilter: this.labelFilter,
    };
  }

  private add(maxV: number, maxM: number, maxD: number, freeV: number, freeM: number, freeD: number): void {
    if (maxV > this.maxV) this.maxV = maxV;
    if (maxM > this.maxM) this.maxM = maxM;
    if (maxD > this.maxD) this.maxD = maxD;
    this.freeV += freeV;
    this.freeM += freeM;
    this.freeD += freeD;
  }
}
