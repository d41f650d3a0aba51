import type { Millis, PeerIdStr } from '../core/index.ts';
import type { GossipCounters } from './metrics.ts';
import type { CellSummary, HostRecord, MemberView } from './records.ts';

/**
 * What placement and the CLI read. GossipNode implements it, and it is a structural
 * superset of placement's PlacementView (src/placement/view.ts), so no adapter is needed. Nothing is copied: maps and iterators run over the
 * node's own structures, whose values (MemberView, CellSummary, HostRecord) are immutable
 * and replaced whole when news arrives. Read synchronously; an entry read before a handler
 * call may be replaced after it.
 */
export interface ClusterView {
  readonly self: PeerIdStr;
  /** The node's own record as it stands now (the draft, which may be newer than what peers saw). */
  selfRecord(): HostRecord;
  readonly cellBits: number;
  /** The node's own cell: the first cellBits bits of hash32(self). */
  readonly ownCell: number;
  readonly district: number;
  /** Own cell members including self, with status and the age of their information. */
  cellMembers(): Iterable<MemberView>;
  /** The same members by peer id. */
  cellMemberMap(): ReadonlyMap<PeerIdStr, MemberView>;
  cellMember(peer: PeerIdStr): MemberView | undefined;
  /** Every known cell summary (own cell included, as its reporter last published it). */
  cellSummaries(): Iterable<CellSummary>;
  /** The summary of a cell at the current cellBits. */
  cellSummary(cell: number): CellSummary | undefined;
  knownSummaries(): number;
  estimatedClusterSize(): number;
  counters(): Readonly<GossipCounters>;
  /** When this node last changed cellBits, by the node's clock. */
  readonly cellBitsSinceMs: Millis;
}
