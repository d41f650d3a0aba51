import type { Encoded } from '../../src/core/index.ts';
import type { Topic } from './topic.ts';

/** Per-position delivery status of one message. */
export const ST_NONE = 0;
export const ST_PENDING = 1;
export const ST_ACCEPT = 2;
export const ST_REJECT = 3;
export const ST_IGNORE = 4;
/** The publisher's own position. */
export const ST_ORIGIN = 5;

/**
 * One gossipsub message in flight: the decoded payload (shared by every receiver, never
 * copied) and, per topic position, the first arrival time, who sent that first copy and
 * what the receiver's validator said. This replaces every host's seen-cache for this
 * message: a copy to a position that already has it is a duplicate, counted and dropped
 * without running protocol code or scheduling an event.
 */
export class MessageState {
  slot = -1;
  topic!: Topic;
  payload!: Encoded;
  origin = -1;
  originPos = -1;
  key = 0;
  contentHash = 0;
  /** Bytes of one copy on the wire: payload plus libp2p's overhead. */
  wireBytes = 0;
  publishedAtMs = 0;
  /** Positions covered (the topic's capacity when published). */
  readonly cap: number;
  readonly arrivalMs: Float64Array;
  readonly fromPos: Int32Array;
  readonly status: Uint8Array;
  /** Hops from the publisher (1 = first hop). */
  readonly hops: Uint8Array;
  /** Events in the queue that still reference this slot; the slot is reused only at 0. */
  inFlight = 0;
  /** Positions that ran the validator (accept, reject or ignore). */
  settled = 0;
  accepted = 0;
  rejected = 0;
  /** Non-zero for a deliberately corrupted message: its tracking id. */
  corruptId = 0;
  /** Hosts other than the publisher that forwarded it (0 for a message stopped at the first hop). */
  forwarders = 0;
  maxHop = 0;

  constructor(cap: number) {
    this.cap = cap;
    this.arrivalMs = new Float64Array(cap);
    this.fromPos = new Int32Array(cap);
    this.status = new Uint8Array(cap);
    this.hops = new Uint8Array(cap);
  }

  reset(): void {
    this.status.fill(0);
    this.inFlight = 0;
    this.settled = 0;
    this.accepted = 0;
    this.rejected = 0;
    this.corruptId = 0;
    this.forwarders = 0;
    this.maxHop = 0;
    this.origin = -1;
    this.originPos = -1;
  }
}

/** Reuses message states by capacity, so a busy topic does not allocate per message. */
export class MessagePool {
  private readonly byCap = new Map<number, MessageState[]>();

  take(cap: number): MessageState {
    const list = this.byCap.get(cap);
    const m = list?.pop();
    if (m !== undefined) {
      m.reset();
      return m;
    }
    return new MessageState(cap);
  }

  give(m: MessageState): void {
    let list = this.byCap.get(m.cap);
    if (list === undefined) {
      list = [];
      this.byCap.set(m.cap, list);
    }
    // Bound the pool of big states (a global topic's is ~1.5 MB each).
    if (m.cap <= 4096 || list.length < 64) list.push(m);
  }
}
