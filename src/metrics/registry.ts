import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/**
 * Prometheus metrics, grouped by subsystem. Names end in their unit, counters in `_total`;
 * labels stay bounded (a route, a code, a topic kind — never a peer or job id).
 */
export function createRegistry(): Registry {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'shoal_' });
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
