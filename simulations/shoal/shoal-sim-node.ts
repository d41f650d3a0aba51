import type { Encoded, Millis, PeerIdStr, ProtocolNode, Verdict } from '../../src/core/index.ts';
import { verdictOf, type GossipNode } from '../../src/gossip/index.ts';
import type { PlacementNode } from '../../src/placement/index.ts';
import { PlacementPayload, UndecodablePayload } from './payloads.ts';

/**
 * One simulated Shoal host: the real GossipNode and PlacementNode side by side, as the agent
 * runs them. It only routes: topic messages and gossip direct messages to the gossip node,
 * placement messages to the placement node, timers to whichever is due. No protocol logic.
 */
export class ShoalSimNode implements ProtocolNode {
  readonly gossip: GossipNode;
  readonly placement: PlacementNode;

  constructor(gossip: GossipNode, placement: PlacementNode) {
    this.gossip = gossip;
    this.placement = placement;
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
  }

  nextTimerAtMs(): Millis {
    const g = this.gossip.nextTimerAtMs();
    const p = this.placement.nextTimerAtMs();
    return g < p ? g : p;
  }
}
