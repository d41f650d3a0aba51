import assert from 'node:assert/strict';
import { runScenario } from '../../simulations/run/run-scenario.ts';
import type { RunResult } from '../../simulations/run/result.ts';
import { ScenarioSchema, type Scenario } from '../../simulations/scenario/schema.ts';
import { metric, why } from './result-helpers.ts';

/**
 * A small federated world over the real src/gossip, src/placement and src/federation code:
 * 4 clusters × 75 hosts, one region each. c0 is full, c1 and c2 half full, c3 accepts no
 * other cluster. Requests enter through c0's hosts; 20% are sent twice at once through two
 * entries; tenant `blocked` is denied everywhere. Seeds are printed and in every message.
 */
const SEED = Number(process.env['SHOAL_SIM_SEED'] ?? 7);

function scenario(patch: { seed?: number; killCluster?: number } = {}): Scenario {
  return ScenarioSchema.parse({
    name: 'federation-test',
    nodes: 300,
    duration_s: 50,
    seed: patch.seed ?? SEED,
    start: { spread_s: 8 },
    topology: { regions: 4 },
    metrics: { warmup_s: 15, sample_hosts: 100 },
    baselines: { flat_gossip: false, best_fit: false },
    federation: {
      clusters: 4,
      gateways_per_cluster: 2,
      full_clusters: 1,
      other_fill: 0.5,
      closed_clusters: [3],
      deny_tenants: ['blocked'],
      kill_at_s: 35,
      kill_cluster: patch.killCluster ?? 0,
      load: { start_s: 20, rate_per_s: 20, tenants: { default: 0.85, blocked: 0.15 }, repeat_fraction: 0.2 },
    },
  });
}

describe('sim: federation of 4 clusters × 75 hosts (real gossip, placement and federation code)', function () {
  this.timeout(120_000);
  let base: RunResult;

  before(() => {
    process.stdout.write(`      federation sim seed ${SEED} (set SHOAL_SIM_SEED to change)\n`);
    base = runScenario(scenario(), { baselines: false });
  });

  it('runs the protocol code without a handler error', () => {
    assert.equal(metric(base, 'handler_errors'), 0, `no handler may throw (${why(base)})`);
    assert.equal(metric(base, 'gateway_remote_clusters_known_min'), 3, `every live gateway must hold the 3 other clusters' summaries (${why(base)})`);
  });

  it('bursts jobs the full cluster refuses into the clusters with room, never into a full or closed one', () => {
    assert.equal(metric(base, 'fed_local_placed'), 0, `c0 is full: nothing may be placed locally (${why(base)})`);
    assert.ok(metric(base, 'bursts_placed') >= 100, `bursts must be placed elsewhere, got ${metric(base, 'bursts_placed')} (${why(base)})`);
    assert.equal(metric(base, 'bursts_into_full_clusters'), 0, `no burst may land in the full cluster (${why(base)})`);
    assert.equal(metric(base, 'bursts_into_closed_clusters'), 0, `no burst may land in c3, which accepts no cluster (${why(base)})`);
    assert.ok(metric(base, 'burst_placed_p99_ms') < 250, `a burst is one WAN round trip plus a placement: p99 < 250 ms, got ${metric(base, 'burst_placed_p99_ms')} (${why(base)})`);
  });

  it("gives a denied tenant the policy's refusal code", () => {
    // Every asked cluster (c1, c2) and the closed one (c3) refuse by policy: the burst keeps FEDERATION_DENIED.
    assert.ok(metric(base, 'bursts_refused_federation_denied') > 0, `tenant blocked must be refused with FEDERATION_DENIED (${why(base)})`);
    assert.equal(base.metrics['bursts_refused_job_unplaceable'] ?? 0, 0, `no refusal for capacity is expected: c1 and c2 have room (${why(base)})`);
    assert.equal(metric(base, 'bursts_refused'), metric(base, 'bursts_refused_federation_denied'), `only the blocked tenant is refused (${why(base)})`);
  });

  it('makes one job of a key sent twice at once through two entries', () => {
    assert.ok(metric(base, 'burst_repeats') >= 20, `the load must send keys twice, got ${metric(base, 'burst_repeats')} (${why(base)})`);
    assert.equal(metric(base, 'burst_repeat_mismatches'), 0, `both answers of a key must name one job (${why(base)})`);
    assert.ok(metric(base, 'bursts_duplicate') > 0, `the second submission must be answered with the existing job (created: false) (${why(base)})`);
    assert.equal(metric(base, 'fed_duplicate_jobs'), 0, `no key may be reserved twice across all clusters (${why(base)})`);
    assert.equal(metric(base, 'fed_overcommitted_hosts'), 0, `no host may be overcommitted (${why(base)})`);
  });

  it("keeps bursting through the other gateway after the entry cluster's active gateway is killed", () => {
    assert.equal(metric(base, 'gateway_killed_at_s'), 35, `the kill must happen (${why(base)})`);
    assert.ok(metric(base, 'bursts_after_kill_placed') >= 50, `bursts after the kill must be placed, got ${metric(base, 'bursts_after_kill_placed')} (${why(base)})`);
    assert.equal(metric(base, 'bursts_after_kill_failed'), 0, `no burst may fail after the kill: entries fail over (${why(base)})`);
    assert.ok(metric(base, 'entry_failovers') > 0, `entries that preferred the dead gateway must fail over (${why(base)})`);
  });

  it("fails over to a receiving cluster's other gateway when one of its gateways is killed", () => {
    const r = runScenario(scenario({ killCluster: 1 }), { baselines: false });
    assert.equal(metric(r, 'handler_errors'), 0, `no handler may throw (${why(r)})`);
    assert.ok(metric(r, 'bursts_after_kill_placed') >= 50, `bursts after the kill must be placed, got ${metric(r, 'bursts_after_kill_placed')} (${why(r)})`);
    assert.equal(metric(r, 'bursts_after_kill_failed'), 0, `no burst may fail after the kill (${why(r)}; ${JSON.stringify(Object.fromEntries(Object.entries(r.metrics).filter(([k]) => k.startsWith('bursts_failed'))))})`);
    assert.ok(metric(r, 'gateway_failovers') > 0, `c0's gateways must fail over to c1's other gateway (${why(r)})`);
  });

  it('replays exactly from its seed', () => {
    const again = runScenario(scenario(), { baselines: false });
    const other = runScenario(scenario({ seed: SEED + 1 }), { baselines: false });
    assert.equal(again.traceHash, base.traceHash, `seed ${SEED} run twice must give one trace hash (${base.traceHash} vs ${again.traceHash})`);
    assert.equal(again.metrics['bursts_placed'], base.metrics['bursts_placed'], `seed ${SEED}: same bursts placed`);
    assert.notEqual(other.traceHash, base.traceHash, `seeds ${SEED} and ${SEED + 1} must give different traces`);
  });
});
