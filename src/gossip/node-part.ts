import type { Millis } from '../core/clock.ts';
import type { Encoded } from '../core/protocol.ts';
import type { Rng } from '../core/rng.ts';
import type { PeerIdStr, Verdict } from '../core/transport.ts';
import type { GossipAction, GossipReason } from './errors.ts';
import type { Layout } from './layout.ts';
import type { Membership } from './membership.ts';
import type { GossipCounters, GossipMetrics, TrafficKind } from './metrics.ts';
import type { GossipOptions } from './options.ts';
import type { SummaryStore } from './summary-store.ts';
import type { Awareness } from './suspicion.ts';
import type { Timers } from './timer-slots.ts';

/** The node's effects, as its parts may use them (each counts traffic and asks for connections as the node does). */
export interface NodeEffects {
  publish(topic: string, kind: TrafficKind, payload: Encoded): void;
  /** A direct message; asks for a connection first when we hold none to `to`. */
  send(to: PeerIdStr, payload: Encoded): void;
  /** An answer to a peer whose message just reached us: the link is there. */
  reply(to: PeerIdStr, payload: Encoded): void;
  /** Ask for a connection to `peer` unless we hold one. */
  dial(peer: PeerIdStr, addrs: readonly string[]): void;
  refuse(reason: GossipReason, action: GossipAction): Verdict;
  /** Someone holds us suspect or failed at `incarnation`, or knows a newer one of us: outbid it. */
  refute(incarnation: number, now: Millis): void;
  /** Our own incarnation. */
  incarnation(): number;
}

/** What a GossipNode shares with its parts: one of each per node, built once. */
export interface NodeContext {
  readonly self: PeerIdStr;
  readonly opts: GossipOptions;
  readonly rng: Rng;
  readonly layout: Layout;
  readonly membership: Membership;
  readonly store: SummaryStore;
  readonly awareness: Awareness;
  readonly timers: Timers;
  readonly stats: GossipCounters;
  readonly metrics: GossipMetrics | null;
  readonly effects: NodeEffects;
}

/**
 * A part of a GossipNode (CellEvents, Reporter, AntiEntropy): it keeps the shared context's
 * members as fields of its own, so a handler reads `this.membership` in one step.
 */
export abstract class NodePart {
  protected readonly self: PeerIdStr;
  protected readonly opts: GossipOptions;
  protected readonly rng: Rng;
  protected readonly layout: Layout;
  protected readonly membership: Membership;
  protected readonly store: SummaryStore;
  protected readonly awareness: Awareness;
  protected readonly timers: Timers;
  protected readonly stats: GossipCounters;
  protected readonly metrics: GossipMetrics | null;
  protected readonly effects: NodeEffects;

  constructor(ctx: NodeContext) {
    this.self = ctx.self;
    this.opts = ctx.opts;
    this.rng = ctx.rng;
    this.layout = ctx.layout;
    this.membership = ctx.membership;
    this.store = ctx.store;
    this.awareness = ctx.awareness;
    this.timers = ctx.timers;
    this.stats = ctx.stats;
    this.metrics = ctx.metrics;
    this.effects = ctx.effects;
  }
}
