import assert from 'node:assert/strict';
import type { FastifyInstance } from 'fastify';
import { pino } from 'pino';
import { Registry } from 'prom-client';
import { EventBus, defaultEventBusOptions } from '../../../src/agent/event-bus.ts';
import type { JobService } from '../../../src/agent/job-service.ts';
import type { AgentControl, AgentInfo } from '../../../src/api/modules.ts';
import { buildApi } from '../../../src/api/server.ts';
import { InMemoryUsageRepository, Metering, defaultMeteringOptions } from '../../../src/host/index.ts';

const HOUR = 3_600_000;
const T0 = Date.UTC(2026, 10, 22, 10, 0, 0);

const info: AgentInfo = {
  self: () => ({}),
  health: () => ({ status: 'ok', checks: {} }),
  members: () => [],
  cells: () => [],
  stats: () => ({}),
};

/** The API with a real Metering over in-memory usage; only the usage route is exercised. */
function api(control: AgentControl): FastifyInstance {
  return buildApi(
    { maxBodyBytes: 65_536 },
    {
      jobs: {} as JobService, // not reached by /v1/usage
      info,
      control,
      events: new EventBus(defaultEventBusOptions, { now: () => T0 }),
      registry: new Registry(),
      metrics: null,
      logger: pino({ level: 'silent' }),
    },
  );
}

describe('GET /v1/usage (inject)', () => {
  let app: FastifyInstance;

  before(async () => {
    const metering = new Metering(defaultMeteringOptions, { repository: new InMemoryUsageRepository(), metrics: null });
    // acme/a ran 10:00–10:30 (2 vCPUs, 128 MiB); acme/b 11:00–11:10; beta/c 10:00–10:20.
    const run = async (jobId: string, tenant: string, vcpus: number, memoryMiB: number, from: number, to: number): Promise<void> => {
      await metering.observe({ jobId, tenant, vcpus, memoryMiB, running: true, nowMs: to, startedAtMs: from });
      await metering.observe({ jobId, tenant, vcpus, memoryMiB, running: false, nowMs: to, endedAtMs: to });
    };
    await run('a', 'acme', 2, 128, T0, T0 + 30 * 60_000);
    await run('b', 'acme', 1, 64, T0 + HOUR, T0 + HOUR + 10 * 60_000);
    await run('c', 'beta', 4, 1024, T0, T0 + 20 * 60_000);
    app = api({ usage: (q) => metering.report(q) });
  });
  after(() => app.close());

  it('sums per job by default, as versioned JSON', async () => {
    const r = await app.inject({ method: 'GET', url: '/v1/usage' });
    assert.equal(r.statusCode, 200, r.body);
    const body = r.json();
    assert.equal(body.version, 1);
    assert.equal(body.groupBy, 'job');
    assert.deepEqual(
      body.rows.map((x: { jobId: string; runningSeconds: number; vcpuSeconds: number; memoryMiBSeconds: number }) => [x.jobId, x.runningSeconds, x.vcpuSeconds, x.memoryMiBSeconds]),
      [
        ['a', 1800, 3600, 230_400],
        ['b', 600, 600, 38_400],
        ['c', 1200, 4800, 1_228_800],
      ],
      'per-job running, vCPU- and memory-MiB-seconds',
    );
  });

  it('sums per tenant with by=tenant, filters by tenant, and selects hourly buckets with since', async () => {
    const byTenant = (await app.inject({ method: 'GET', url: '/v1/usage?by=tenant' })).json();
    assert.deepEqual(byTenant.rows.map((x: { tenant: string; runningSeconds: number }) => [x.tenant, x.runningSeconds]), [
      ['acme', 2400],
      ['beta', 1200],
    ]);
    const acme = (await app.inject({ method: 'GET', url: '/v1/usage?tenant=acme' })).json();
    assert.deepEqual(acme.rows.map((x: { jobId: string }) => x.jobId), ['a', 'b'], 'only acme jobs');
    const since = new Date(T0 + HOUR + 5 * 60_000).toISOString();
    const late = (await app.inject({ method: 'GET', url: `/v1/usage?since=${since}` })).json();
    assert.deepEqual(late.rows.map((x: { jobId: string }) => x.jobId), ['b'], 'since inside the 11:00 bucket keeps that bucket only');
    assert.equal(late.since, since, 'the answer says which range it covers');
  });

  it('exports RFC 4180 CSV with format=csv', async () => {
    const r = await app.inject({ method: 'GET', url: '/v1/usage?format=csv&tenant=beta' });
    assert.equal(r.statusCode, 200);
    assert.match(String(r.headers['content-type']), /^text\/csv; charset=utf-8/);
    assert.equal(r.body, 'tenant,job_id,from,to,running_seconds,vcpu_seconds,memory_mib_seconds\r\nbeta,c,2026-11-22T10:00:00.000Z,2026-11-22T11:00:00.000Z,1200,4800,1228800\r\n');
  });

  const bad: [string, RegExp][] = [
    ['/v1/usage?since=yesterday', /since: must be an ISO 8601 date/],
    ['/v1/usage?since=2026-13-45', /since: 2026-13-45 is not a valid date/],
    ['/v1/usage?since=2026-11-22T12:00:00Z&until=2026-11-22T11:00:00Z', /until \(2026-11-22T11:00:00.000Z\) must be after since/],
    ['/v1/usage?format=xml', /format: /],
    ['/v1/usage?by=host', /by: /],
    ['/v1/usage?tenants=acme', /tenants/],
  ];
  for (const [url, message] of bad) {
    it(`answers 400 API_BAD_REQUEST for ${url.slice('/v1/usage'.length)}`, async () => {
      const r = await app.inject({ method: 'GET', url });
      assert.equal(r.statusCode, 400, `expected 400 for ${url}, got ${r.statusCode}: ${r.body}`);
      assert.equal(r.json().error.code, 'API_BAD_REQUEST');
      assert.match(r.json().error.message, message);
    });
  }

  it('answers 503 USAGE_UNAVAILABLE when the agent has no metering', async () => {
    const bare = api({});
    try {
      const r = await bare.inject({ method: 'GET', url: '/v1/usage' });
      assert.equal(r.statusCode, 503, r.body);
      assert.equal(r.json().error.code, 'USAGE_UNAVAILABLE');
    } finally {
      await bare.close();
    }
  });
});
