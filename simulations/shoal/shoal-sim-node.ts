import type { Encoded, Millis, PeerIdStr, ProtocolNode, Verdict } from '../../src/core/index.ts';
import { verdictOf, type GossipNode } from '../../src/gossip/index.ts';
import type { PlacementNode } from '../../src/placement/index.ts';
import type { Evacuator } from '../../src/placement/recovery/index.ts';
import { PlacementPayload, UndecodablePayload } from './payloads.ts';

/**
 * One simulated Shoal host: the real GossipNode and PlacementNode side by side, as the agent
 * runs them. It only routes: topic messages and gossip direct messages to the gossip node,
 * placement messages to the placement node, timers to whichever is due (the evacuator too,
 * when the scenario runs recovery). No protocol logic.
 */
export class ShoalSimNode implements ProtocolNode {
  readonly gossip: GossipNode;
  readonly placement: PlacementNode;
  evacuator: Evacuator | null = null;
  /** A member event happened: the evacuator looks at the view on the next tick (who evacuates may have changed). */
  private evacuatorKicked = false;

  constructor(gossip: GossipNode, placement: PlacementNode) {
    this.gossip = gossip;
    this.placement = placement;
  }

  /** Called on member events; the world re-reads nextTimerAtMs after the handler that caused them. */
  kickEvacuator(): void {
    if (this.evacuator !== null) this.evacuatorKicked = true;
  }

  start(now: Millis): void {
    this.gossip.start(now);
  }

  stop(now: Millis): void {
    this.gossip.stop(now);
  }

  onTopicMessage(topic: string, from: PeerIdStr, origin: PeerIdStr, payload: Encoded, now: Millis): Verdict {
    // The agent's runner decodes first; an undecodable message never reaches the node.
    if (payload instanceof UndecodablePayload) return verdictOf(payload.error, this.gossip);
    return this.gossip.onTopicMessage(topic, from, origin, payload, now);
  }

  onDirect(from: PeerIdStr, payload: Encoded, now: Millis): void {
    if (payload instanceof PlacementPayload) this.placement.onMessage(from, payload.msg, now);
    else this.gossip.onDirect(from, payload, now);
  }

  onTimer(now: Millis): void {
    if (this.gossip.nextTimerAtMs() <= now) this.gossip.onTimer(now);
    if (this.placement.nextTimerAtMs() <= now) this.placement.onTimer(now);
    const e = this.evacuator;
    if (e !== null && (this.evacuatorKicked || e.nextTimerAtMs() <= now)) {
      this.evacuatorKicked = false;
      e.onTimer(now);
    }
  }

  nextTimerAtMs(): Millis {
    const g = this.gossip.nextTimerAtMs();
    const p = this.placement.nextTimerAtMs();
    let at = g < p ? g : p;
    const e = this.evacuator;
    if (e !== null) {
      // A kick is due at once: the world fires it on the next clock tick.
      const ev = this.evacuatorKicked ? -Infinity : e.nextTimerAtMs();
      if (ev < at) at = ev;
    }
    return at;
  }
}
