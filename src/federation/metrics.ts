import type { CounterLike } from '../placement/metrics.ts';

/**
 * Federation metrics. The agent passes prom-client counters; the simulator passes null and
 * reads the gateway's plain counters. Label values are bounded: an operation, an outcome
 * or an error code, never a peer, job or cluster name (clusters are operator-chosen and
 * unbounded in principle).
 */
export interface FederationMetrics {
  /** Bursts a gateway handled for its cluster's entry agents, by outcome (placed, duplicate, or an error code). */
  readonly bursts: CounterLike<'outcome'>;
  /** Requests served to remote gateways, by op (summary, place, get, stop) and outcome (ok or an error code). */
  readonly remoteServed: CounterLike<'op' | 'outcome'>;
  /** Requests sent to remote gateways, by op and outcome (ok, an error code, unreachable). */
  readonly remoteSent: CounterLike<'op' | 'outcome'>;
  /** Connections and requests refused because the peer is not in any allowlist. */
  readonly refusedPeers: CounterLike<'stage'>;
  /** Failovers: a gateway that failed and the next one tried, by side (entry, remote). */
  readonly failovers: CounterLike<'side'>;
}

/** Plain counters every gateway keeps, for `shoal info` and the simulator. */
export interface FederationStats {
  burstsPlaced: number;
  burstsRefused: number;
  burstsFailed: number;
  remotePlaced: number;
  remoteRefused: number;
  summariesSent: number;
  summariesReceived: number;
  refusedPeers: number;
  failovers: number;
}

export function emptyFederationStats(): FederationStats {
  return { burstsPlaced: 0, burstsRefused: 0, burstsFailed: 0, remotePlaced: 0, remoteRefused: 0, summariesSent: 0, summariesReceived: 0, refusedPeers: 0, failovers: 0 };
}

/** Codes another cluster may answer with that are worth their own label; anything else is `other`. */
const KNOWN_OUTCOMES = new Set([
  'FEDERATION_DENIED',
  'FEDERATION_QUOTA_EXCEEDED',
  'FEDERATION_NOT_ALLOWED',
  'FEDERATION_UNKNOWN_CLUSTER',
  'FEDERATION_NOT_CONFIGURED',
  'FEDERATION_UNAVAILABLE',
  'FEDERATION_INVALID_ADDRESS',
  'FEDERATION_BAD_MESSAGE',
  'JOB_UNPLACEABLE',
  'JOB_INVALID_SPEC',
  'JOB_IDEMPOTENCY_CONFLICT',
  'JOB_PLACEMENT_FAILED',
  'JOB_HOST_UNREACHABLE',
  'PLACEMENT_TIMEOUT',
  'PLACEMENT_OWNER_UNREACHABLE',
  'PLACEMENT_OVERLOADED',
  'STORE_WRITE_FAILED',
  'NET_TIMEOUT',
  'NET_UNREACHABLE',
  'NET_STREAM_FAILED',
  'NET_REMOTE_ERROR',
  'NET_NO_HANDLER',
  'INTERNAL',
]);

/** A metric label for an outcome code: codes come from other clusters too, so the label set is closed. */
export function outcomeLabel(code: string): string {
  return KNOWN_OUTCOMES.has(code) ? code : 'other';
}
