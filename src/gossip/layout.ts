import type { Millis } from '../core/clock.ts';
import { hashPrefix } from '../core/hash.ts';
import type { PeerIdStr } from '../core/transport.ts';
import { cellTopic, districtBitsOf, districtOf, districtTopic, globalTopic } from './topics.ts';

/**
 * Where a node sits in the current cell layout: its cell and district at `bits`, and their
 * topics. One object, shared by the node and its parts; only the node moves it (a split or
 * a merge), so every part sees the same layout at every step.
 */
export class Layout {
  bits = 0;
  cell = 0;
  district = 0;
  districtBits = 0;
  cellTopic = '';
  districtTopic = '';
  /** The global topic: the same in every layout. */
  readonly globalTopic: string;
  /** When the node entered this layout (its start, a split or a merge). */
  sinceMs = 0;
  /** The node's last split or merge (not its start). */
  changedAtMs = -Infinity;

  private readonly cluster: string;
  private readonly self: PeerIdStr;

  constructor(cluster: string, self: PeerIdStr, bits: number) {
    this.cluster = cluster;
    this.self = self;
    this.globalTopic = globalTopic(cluster);
    this.enter(bits, 0);
  }

  enter(bits: number, now: Millis): void {
    this.sinceMs = now;
    this.bits = bits;
    this.cell = hashPrefix(this.self, bits);
    this.districtBits = districtBitsOf(bits);
    this.district = districtOf(this.cell, bits);
    this.cellTopic = cellTopic(this.cluster, bits, this.cell);
    this.districtTopic = districtTopic(this.cluster, bits, this.district);
  }

  /** A split or a merge. */
  change(bits: number, now: Millis): void {
    this.enter(bits, now);
    this.changedAtMs = now;
  }

  /**
   * Cells of a district by the layout, not the ones heard of so far: the district topic's
   * publishers, so a publisher's share (and its burst) does not shrink as a cold start fills
   * the view.
   */
  cellsInDistrict(): number {
    return 2 ** (this.bits - this.districtBits);
  }

  /** The cell `peer` belongs to in this layout. */
  cellOf(peer: PeerIdStr): number {
    return hashPrefix(peer, this.bits);
  }
}
