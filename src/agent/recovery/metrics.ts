import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import type { CounterLike } from '../../placement/metrics.ts';
import type { RecoveryMetrics } from '../../placement/recovery/index.ts';

/** Recovery metrics: the core's (`RecoveryMetrics`) plus the agent's replication and fencing counters. */
export interface AgentRecoveryMetrics extends RecoveryMetrics {
  /** Stale copies this host stopped, by source: key-owner, replica-holder, push. */
  readonly jobsFenced: CounterLike<'source'>;
  /** Replica pushes to holders, by result: ok, failed. */
  readonly replicaPushes: CounterLike<'result'>;
}

export function createRecoveryMetrics(registry: Registry, replicasHeld: () => number): AgentRecoveryMetrics {
  const counter = <L extends string>(name: string, help: string, labelNames: L[]): Counter<L> => new Counter({ name, help, labelNames, registers: [registry] });
  new Gauge({
    name: 'shoal_recovery_replicas',
    help: 'Job records this host holds as a replica holder of other hosts',
    registers: [registry],
    collect() {
      this.set(replicasHeld());
    },
  });
  return {
    jobsReplaced: counter('shoal_recovery_jobs_replaced_total', 'Jobs re-placed on another host, by reason (evacuation, drain)', ['reason']),
    jobsLost: counter('shoal_recovery_jobs_lost_total', 'Jobs of failed hosts reported lost instead of re-placed', []),
    evacuations: counter('shoal_recovery_evacuations_total', 'Evacuations this host ran, by result (completed, cancelled)', ['result']),
    evacuationSeconds: new Histogram({
      name: 'shoal_recovery_evacuation_seconds',
      help: 'Host declared failed until every evacuable job of it was placed again, per evacuation this host completed',
      buckets: [1, 2, 5, 10, 15, 20, 30, 45, 60, 120, 300, 600],
      registers: [registry],
    }),
    replaceResults: counter('shoal_recovery_replace_results_total', 'Re-placement answers, by result (replaced, retry, abandoned)', ['result']),
    jobsFenced: counter('shoal_recovery_jobs_fenced_total', 'Stale copies of jobs this host stopped because they run elsewhere, by source', ['source']),
    replicaPushes: counter('shoal_recovery_replica_pushes_total', 'Replica pushes to holders, by result (ok, failed)', ['result']),
  };
}
