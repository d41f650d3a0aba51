import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/**
 * How often the event loop's lag is sampled, by prom-client's `shoal_nodejs_eventloop_lag_*`
 * gauges and by the agent's local health (`src/agent/local-health.ts`). Every sample wakes an
 * idle agent: prom-client's default of 10 ms and local health's 20 ms were 150 of its 265
 * wake-ups a second, and cutting them to 10 each took idle CPU from ~1.1% to 0.9% of a core.
 * Lag that matters (Lifeguard's unit is 125 ms) still shows. prom-client's gauges include the
 * interval itself, so an idle agent reads ~0.1 s; local health subtracts it.
 */
export const EVENT_LOOP_SAMPLE_MS = 100;

/**
 * Prometheus metrics, grouped by subsystem. Names end in their unit, counters in `_total`;
 * labels stay bounded (a route, a code, a topic kind — never a peer or job id).
 */
export function createRegistry(): Registry {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'shoal_', eventLoopMonitoringPrecision: EVENT_LOOP_SAMPLE_MS });
  return registry;
}

export interface ApiMetrics {
  requests: Counter<'route' | 'method' | 'status'>;
  requestSeconds: Histogram<'route'>;
}

export function createApiMetrics(registry: Registry): ApiMetrics {
  return {
    requests: new Counter({ name: 'shoal_api_requests_total', help: 'API requests by route, method and status', labelNames: ['route', 'method', 'status'], registers: [registry] }),
    requestSeconds: new Histogram({
      name: 'shoal_api_request_seconds',
      help: 'API request latency',
      labelNames: ['route'],
      buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
      registers: [registry],
    }),
  };
}

export interface JobMetrics {
  submissions: Counter<'outcome'>;
  jobs: Gauge<'state'>;
}

export function createJobMetrics(registry: Registry): JobMetrics {
  return {
    submissions: new Counter({ name: 'shoal_job_submissions_total', help: 'Job submissions by outcome (created, duplicate, invalid, conflict, unplaceable, error)', labelNames: ['outcome'], registers: [registry] }),
    jobs: new Gauge({ name: 'shoal_jobs', help: 'Jobs owned by this host, by state', labelNames: ['state'], registers: [registry] }),
  };
}
