import type { PeerIdStr } from '../core/transport.ts';
import type { CellSummary, MemberView } from '../gossip/records.ts';

/**
 * The narrow read-only view of the cluster that placement needs. The gossip node adapts its
 * ClusterView to it; tests and the simulator may use `StaticPlacementView`. Every method is
 * synchronous and cheap: placement calls them on each request.
 */
export interface PlacementView {
  readonly self: PeerIdStr;
  /** This node's cell id (first `cellBits` bits of hash32(self)). */
  readonly ownCell: number;
  readonly cellBits: number;
  /** Full member views of the own cell, this node included when it hosts jobs. Bounded by the cell size. */
  cellMembers(): Iterable<MemberView>;
  /** O(1) lookup in the own cell. */
  cellMember(peer: PeerIdStr): MemberView | undefined;
  /** The newest summary of every known cell (the own cell may be included; it is skipped). */
  cellSummaries(): Iterable<CellSummary>;
  /** O(1) lookup by cell id. */
  cellSummary(cell: number): CellSummary | undefined;
}

/** A plain in-memory view, for tests, benchmarks and simple drivers. */
export class StaticPlacementView implements PlacementView {
  readonly self: PeerIdStr;
  ownCell: number;
  cellBits: number;
  private readonly members = new Map<PeerIdStr, MemberView>();
  private readonly summaries = new Map<number, CellSummary>();

  constructor(opts: { self: PeerIdStr; ownCell?: number; cellBits?: number; members?: Iterable<MemberView>; summaries?: Iterable<CellSummary> }) {
    this.self = opts.self;
    this.ownCell = opts.ownCell ?? 0;
    this.cellBits = opts.cellBits ?? 0;
    for (const m of opts.members ?? []) this.members.set(m.record.origin, m);
    for (const s of opts.summaries ?? []) this.summaries.set(s.cell, s);
  }

  cellMembers(): Iterable<MemberView> {
    return this.members.values();
  }

  cellMember(peer: PeerIdStr): MemberView | undefined {
    return this.members.get(peer);
  }

  cellSummaries(): Iterable<CellSummary> {
    return this.summaries.values();
  }

  cellSummary(cell: number): CellSummary | undefined {
    return this.summaries.get(cell);
  }

  setMember(member: MemberView): void {
    this.members.set(member.record.origin, member);
  }

  removeMember(peer: PeerIdStr): void {
    this.members.delete(peer);
  }

  setSummary(summary: CellSummary): void {
    this.summaries.set(summary.cell, summary);
  }

  removeSummary(cell: number): void {
    this.summaries.delete(cell);
  }
}
