import type { GossipAction, GossipReason, ReasonCounts } from './errors.ts';
import type { MemberStatus } from './records.ts';

/** Traffic kinds: bounded label values (never a topic name or a peer id). */
export type TrafficKind = 'cell' | 'district' | 'global' | 'direct';
export const TRAFFIC_KINDS: readonly TrafficKind[] = ['cell', 'district', 'global', 'direct'];

/**
 * What the node reports to a metrics backend. The agent implements it with prom-client
 * (names like `shoal_gossip_messages_received_total{kind}`); the simulator passes null and
 * reads GossipCounters instead. Every label is bounded.
 */
export interface GossipMetrics {
  messageReceived(kind: TrafficKind, bytes: number): void;
  messageSent(kind: TrafficKind, bytes: number): void;
  refused(reason: GossipReason, action: GossipAction): void;
  /** A member changed status in this node's view (suspicions, failures, refutations = suspect → alive). */
  memberStatus(status: MemberStatus, previous: MemberStatus | null): void;
  /** This node refuted a suspicion about itself. */
  selfRefuted(): void;
  queueDepth(queue: 'events' | 'relays', depth: number): void;
  cellBits(bits: number): void;
}

export interface TrafficCounters {
  msgs: number;
  bytes: number;
}

/** Always-on counters (plain numbers, cheap enough for the simulator); `shoal info` prints them. */
export interface GossipCounters {
  readonly received: Record<TrafficKind, TrafficCounters>;
  readonly sent: Record<TrafficKind, TrafficCounters>;
  readonly rejected: ReasonCounts;
  readonly ignored: ReasonCounts;
  /** Suspicions raised in this node's view. */
  suspicions: number;
  /** Suspicions of others seen refuted in this node's view. */
  refutations: number;
  /** Refutations this node published about itself. */
  selfRefutations: number;
  failures: number;
  recordsPublished: number;
  /** As aggregator: newcomers' records announced in an events batch for them. */
  newcomersAnnounced: number;
  /** Own first record announced by the aggregator instead of published (0 or 1 per start). */
  recordsAnnouncedForUs: number;
  summariesPublished: number;
  digestsPublished: number;
  eventMessagesPublished: number;
  accusationsSent: number;
  eventsDropped: number;
  syncRequestsServed: number;
  syncRequestsDropped: number;
  /** Summary repair requests sent (a district's page asked for while our layout had gaps). */
  summaryRepairs: number;
  /** Times this node started reporting its cell in place of a silent lowest-hash member. */
  summaryStandIns: number;
  cellBitsChanges: number;
  probesSent: number;
  probesFailed: number;
}

function traffic(): Record<TrafficKind, TrafficCounters> {
  return { cell: { msgs: 0, bytes: 0 }, district: { msgs: 0, bytes: 0 }, global: { msgs: 0, bytes: 0 }, direct: { msgs: 0, bytes: 0 } };
}

export function newGossipCounters(rejected: ReasonCounts, ignored: ReasonCounts): GossipCounters {
  return {
    received: traffic(),
    sent: traffic(),
    rejected,
    ignored,
    suspicions: 0,
    refutations: 0,
    selfRefutations: 0,
    failures: 0,
    recordsPublished: 0,
    newcomersAnnounced: 0,
    recordsAnnouncedForUs: 0,
    summariesPublished: 0,
    digestsPublished: 0,
    eventMessagesPublished: 0,
    accusationsSent: 0,
    eventsDropped: 0,
    syncRequestsServed: 0,
    syncRequestsDropped: 0,
    summaryRepairs: 0,
    summaryStandIns: 0,
    cellBitsChanges: 0,
    probesSent: 0,
    probesFailed: 0,
  };
}
