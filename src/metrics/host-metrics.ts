import { Counter, Histogram, type Registry } from 'prom-client';
import type { DriverName } from '../core/job.ts';
import type { DriverMetrics, DriverOp, MeteringMetrics, ReconcilerEventType, ReconcilerMetrics } from '../host/index.ts';

/**
 * prom-client implementations of the metrics interfaces `src/host` defines: the reconcile
 * loop, the drivers' calls and usage metering. Every label comes from a small fixed set
 * (outcome, event type, driver name, driver operation, DRIVER_* code), never a job id.
 */

export interface HostMetrics {
  readonly reconciler: ReconcilerMetrics;
  readonly drivers: DriverMetrics;
  readonly metering: MeteringMetrics;
}

/** Driver calls range from a /proc read (sub-ms) to a graceful VM stop (tens of seconds). */
const DRIVER_CALL_BUCKETS_S = [0.001, 0.005, 0.025, 0.1, 0.5, 1, 2.5, 5, 15, 30, 60];
/** A pass lists every driver once and acts on the jobs that need it. */
const PASS_BUCKETS_S = [0.005, 0.025, 0.1, 0.25, 0.5, 1, 2.5, 5, 15, 60];

export function createHostMetrics(registry: Registry): HostMetrics {
  const passes = new Counter({ name: 'shoal_reconcile_passes_total', help: 'Reconcile passes, by outcome (ok, error)', labelNames: ['outcome'], registers: [registry] });
  const passSeconds = new Histogram({ name: 'shoal_reconcile_pass_seconds', help: 'Duration of a reconcile pass', buckets: PASS_BUCKETS_S, registers: [registry] });
  const actions = new Counter({
    name: 'shoal_reconcile_actions_total',
    help: 'What the reconcile loop did to jobs (started, adopted, restarted, stopped, failed, imported…), by event type and driver',
    labelNames: ['type', 'driver'],
    registers: [registry],
  });
  const driverErrors = new Counter({
    name: 'shoal_reconcile_driver_errors_total',
    help: 'Driver failures the reconcile loop met, by driver and DRIVER_* code',
    labelNames: ['driver', 'code'],
    registers: [registry],
  });
  const calls = new Counter({ name: 'shoal_driver_calls_total', help: 'Driver calls, by driver, operation and outcome (ok or a DRIVER_* code)', labelNames: ['driver', 'op', 'outcome'], registers: [registry] });
  const callSeconds = new Histogram({ name: 'shoal_driver_call_seconds', help: 'Driver call latency, by driver and operation', labelNames: ['driver', 'op'], buckets: DRIVER_CALL_BUCKETS_S, registers: [registry] });
  const metered = new Counter({ name: 'shoal_usage_running_seconds_total', help: 'Running time added to usage metering, in seconds (all jobs of this host)', registers: [registry] });

  return {
    reconciler: {
      passesTotal: (outcome: 'ok' | 'error') => passes.inc({ outcome }),
      passSeconds: (seconds: number) => passSeconds.observe(seconds),
      actionsTotal: (type: ReconcilerEventType, driver: DriverName) => actions.inc({ type, driver }),
      driverErrorsTotal: (driver: DriverName, code: string) => driverErrors.inc({ driver, code }),
    },
    drivers: {
      callsTotal: (driver: DriverName, op: DriverOp, outcome: string) => calls.inc({ driver, op, outcome }),
      callSeconds: (driver: DriverName, op: DriverOp, seconds: number) => callSeconds.observe({ driver, op }, seconds),
    },
    metering: {
      addedSeconds: (seconds: number) => metered.inc(seconds),
    },
  };
}
