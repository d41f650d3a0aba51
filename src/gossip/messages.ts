import type { Millis, PeerIdStr } from '../core/index.ts';
import type { CellSummary, HostRecord, MemberStatus } from './records.ts';

/**
 * The decoded gossip messages. On the wire each is a msgpack tuple inside a versioned
 * envelope with a CRC-32 trailer (see codec.ts); here they are plain immutable objects that
 * the simulator shares among every node that receives one.
 */

/** Topic message (cell topic): a host's full record, published by the host itself. */
export interface RecordMsg {
  readonly type: 'record';
  readonly record: HostRecord;
}

/** A member event about one host of the publisher's cell. */
export interface MemberEventWire {
  /**
   * `alive`: a host new to the cell pushed its record to the cell's aggregator, which
   * announces it batched with other newcomers' instead of each publishing its own (a restart
   * still publishes its own record).
   */
  readonly kind: 'suspect' | 'failed' | 'left' | 'alive';
  readonly peer: PeerIdStr;
  /** The incarnation the event is about: an `alive` record with a higher one refutes it. */
  readonly incarnation: number;
  /** Suspect only: independent accusers beyond the first, for Lifeguard's shrinking timeout. */
  readonly confirmations: number;
  /** `alive` only: the newcomer's record, as it pushed it (its origin is `peer`). */
  readonly record?: HostRecord;
}

/** Topic message (cell topic): a batch of member events from one publisher. */
export interface EventsMsg {
  readonly type: 'events';
  readonly cluster: string;
  readonly origin: PeerIdStr;
  readonly events: readonly MemberEventWire[];
}

/** Topic message (district topic): a cell reporter's summary of its cell. */
export interface SummaryMsg {
  readonly type: 'summary';
  readonly summary: CellSummary;
}

/** Topic message (global topic): the cell summaries of one district, batched by its reporter. */
export interface DigestMsg {
  readonly type: 'digest';
  readonly cluster: string;
  readonly reporter: PeerIdStr;
  readonly cellBits: number;
  readonly districtBits: number;
  readonly district: number;
  readonly issuedAtMs: Millis;
  /** True when it accounts for every summary the reporter knows in its district (a refresh), not only changes. */
  readonly full: boolean;
  readonly summaries: readonly CellSummary[];
  /**
   * Summaries named without their bodies, because the reporter already sent them whole (or an
   * earlier issue with the same content). A receiver holding that content takes the newer
   * issuedAtMs; one without it pulls the district's page.
   */
  readonly versions: readonly SummaryVersion[];
}

/** A summary named by version: its cell, when it was issued, and a hash of everything else. */
export interface SummaryVersion {
  readonly cellBits: number;
  readonly cell: number;
  readonly issuedAtMs: Millis;
  /** `summaryContentHash`: equal for two issues of an unchanged cell. */
  readonly contentHash: number;
}

/** Direct: SWIM probe. */
export interface PingMsg {
  readonly type: 'ping';
  readonly seq: number;
}

/** Direct: answer to a ping, or relayed by the helper of a ping-req. */
export interface AckMsg {
  readonly type: 'ack';
  readonly seq: number;
}

/** Direct: a ping-req helper got no ack from the target in time (Lifeguard): the requester's own network is fine. */
export interface NackMsg {
  readonly type: 'nack';
  readonly seq: number;
}

/** Direct: "please ping `target` for me and relay its ack with my `seq`". */
export interface PingReqMsg {
  readonly type: 'ping-req';
  readonly seq: number;
  readonly target: PeerIdStr;
}

/** Direct: "I suspect `peer`": sent to the cell's event aggregator, which batches suspicions into one topic message. */
export interface AccuseMsg {
  readonly type: 'accuse';
  readonly peer: PeerIdStr;
  readonly incarnation: number;
}

/** Direct: push-pull sync request (join and anti-entropy). */
export interface SyncReqMsg {
  readonly type: 'sync-req';
  readonly cluster: string;
  /** The requester's own record (the push half), or null. */
  readonly record: HostRecord | null;
  readonly wantRecords: boolean;
  /** -1: no summaries wanted; otherwise resume after this summary key (0 = from the start). */
  readonly summaryCursor: number;
  /** The requester's view hash of its cell (Membership.viewHash), or -1: equal hashes mean no records need to travel. */
  readonly viewHash: number;
  /**
   * A repair's bitmap of the cells of its layout it holds a summary of (bit c of byte c >> 3),
   * or null: the answer then carries only summaries it lacks, from the cursor's cell on.
   */
  readonly have: Uint8Array | null;
}

/** One member as the responder sees it. */
export interface SyncMember {
  readonly record: HostRecord;
  readonly status: MemberStatus;
  /** The incarnation the status is about (a suspicion of incarnation 3 is refuted by 4). */
  readonly statusIncarnation: number;
}

/** Direct: push-pull sync response. */
export interface SyncRespMsg {
  readonly type: 'sync-resp';
  readonly cluster: string;
  readonly cellBits: number;
  readonly estimatedSize: number;
  /** The responder's cell at its cellBits (the requester keeps those of its own cell). */
  readonly cell: number;
  readonly members: readonly SyncMember[];
  readonly summaries: readonly CellSummary[];
  /** -1 when done; -2: not served here, ask the contacts of your cell; otherwise the cursor for the next page. */
  readonly nextCursor: number;
  /** True when the requester's view hash matched ours: `members` is empty because nothing differs. */
  readonly inSync: boolean;
  /** True when the responder (the cell's aggregator) will announce the requester's pushed record: the requester need not publish it. */
  readonly announced: boolean;
}

export type TopicMsg = RecordMsg | EventsMsg | SummaryMsg | DigestMsg;
/** Direct: a cell reporter hands its summary to the district reporter whose digest lacked it. */
export type DirectMsg = PingMsg | AckMsg | NackMsg | PingReqMsg | AccuseMsg | SyncReqMsg | SyncRespMsg | SummaryMsg;
export type GossipMessage = TopicMsg | DirectMsg;
