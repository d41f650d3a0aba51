import type { CounterLike } from '../metrics.ts';

/**
 * Recovery metrics. The agent passes prom-client objects (they fit these shapes); the
 * simulator passes null and reads `Evacuator.stats`. Labels are bounded: a reason or a result.
 */
export interface HistogramLike<L extends string> {
  observe(labels: Partial<Record<L, string>>, value: number): void;
}

export interface RecoveryMetrics {
  /** Jobs re-placed on another host, by reason: evacuation, drain. */
  readonly jobsReplaced: CounterLike<'reason'>;
  /** Jobs of failed hosts reported lost instead of re-placed. */
  readonly jobsLost: CounterLike<never>;
  /** Evacuations this node ran, by result: completed, cancelled (the host came back, or another holder took over). */
  readonly evacuations: CounterLike<'result'>;
  /** Host declared failed → every evacuable job placed again, for evacuations this node completed. */
  readonly evacuationSeconds: HistogramLike<never>;
  /** Re-placement answers by result: replaced, retry, abandoned. */
  readonly replaceResults: CounterLike<'result'>;
}

/** Plain counters, always kept; the simulator sums them across nodes. */
export interface RecoveryStats {
  evacuationsStarted: number;
  evacuationsCompleted: number;
  evacuationsCancelled: number;
  replaced: number;
  lost: number;
  retries: number;
  abandoned: number;
}

export function emptyRecoveryStats(): RecoveryStats {
  return { evacuationsStarted: 0, evacuationsCompleted: 0, evacuationsCancelled: 0, replaced: 0, lost: 0, retries: 0, abandoned: 0 };
}
