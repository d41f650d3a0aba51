/**
 * Placement metrics. The agent passes prom-client counters (they fit `CounterLike`); the
 * simulator passes null and reads `PlacementNode.stats`. Label values are bounded: a kind,
 * an answer, a result or a reason code, never a peer or job id.
 */
export interface CounterLike<L extends string> {
  inc(labels: Partial<Record<L, string>>, value?: number): void;
}

export interface PlacementMetrics {
  /** Placements this node finished as key owner, by result: placed, duplicate, refused, failed. */
  readonly placements: CounterLike<'result'>;
  /** Asks this node sent as coordinator or contact, by kind (admit, route) and answer (accepted, rejected, timeout, unreachable). */
  readonly asks: CounterLike<'kind' | 'answer'>;
  /** Asks beyond the first of each placement. */
  readonly retries: CounterLike<never>;
  /** Admissions this host decided, by result: accepted, duplicate, rejected. */
  readonly admissions: CounterLike<'result'>;
  /** Refused placements by their most frequent reason. */
  readonly refusals: CounterLike<'reason'>;
  /** Requests forwarded toward a key's owner, by kind: submit, locate. */
  readonly forwards: CounterLike<'kind'>;
  /** Late or superseded admissions this node released. */
  readonly releases: CounterLike<never>;
}

/** Plain counters, always kept; the simulator sums them across nodes. */
export interface PlacementStats {
  submits: number;
  placed: number;
  duplicates: number;
  refused: number;
  failed: number;
  asks: number;
  retries: number;
  admitted: number;
  rejected: number;
  forwards: number;
  releases: number;
  timeouts: number;
}

export function emptyPlacementStats(): PlacementStats {
  return { submits: 0, placed: 0, duplicates: 0, refused: 0, failed: 0, asks: 0, retries: 0, admitted: 0, rejected: 0, forwards: 0, releases: 0, timeouts: 0 };
}
