import type { PeerIdStr } from '../core/transport.ts';
import type { MemberEventWire } from './messages.ts';

/**
 * Member events waiting to be published, at most one per peer: newer news about a peer
 * replaces older news still queued (memberlist's queue.go invalidation). Bounded by
 * `maxQueuedEvents` (≤ 64, one events message); when full, the oldest entry is dropped and
 * counted: a dropped suspicion is re-raised by the next probe round, a dropped failure is
 * reached by everyone's own suspicion timer anyway.
 */
export class EventQueue {
  private readonly byPeer = new Map<PeerIdStr, MemberEventWire>();
  private readonly max: number;
  dropped = 0;

  constructor(maxQueuedEvents: number) {
    this.max = maxQueuedEvents;
  }

  get size(): number {
    return this.byPeer.size;
  }

  push(ev: MemberEventWire): void {
    if (this.byPeer.has(ev.peer)) {
      this.byPeer.set(ev.peer, ev);
      return;
    }
    if (this.byPeer.size >= this.max) {
      const oldest = this.byPeer.keys().next().value as PeerIdStr;
      this.byPeer.delete(oldest);
      this.dropped++;
    }
    this.byPeer.set(ev.peer, ev);
  }

  /** Queued events of one kind (a scan: at most 64). */
  count(kind: MemberEventWire['kind']): number {
    let n = 0;
    for (const ev of this.byPeer.values()) if (ev.kind === kind) n++;
    return n;
  }

  /** Cancels queued news about `peer` (it refuted, or left the cell). */
  drop(peer: PeerIdStr): void {
    this.byPeer.delete(peer);
  }

  /** Takes everything queued, oldest first. */
  drain(): MemberEventWire[] {
    const out = [...this.byPeer.values()];
    this.byPeer.clear();
    return out;
  }
}
