import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { runScenario } from '../../simulations/run/run-scenario.ts';
import type { RunResult } from '../../simulations/run/result.ts';
import { loadScenarioFile } from '../../simulations/scenario/load.ts';
import type { Scenario } from '../../simulations/scenario/schema.ts';
import { metric, why } from './result-helpers.ts';

/**
 * 1k-host scenarios over the real src/gossip and src/placement code, as CI tests. Each runs a
 * scenario file from simulations/scenarios/ and checks the property the issue names; the
 * failure message carries the seed and the scenario's own failed assertions.
 */
const dir = fileURLToPath(new URL('../../simulations/scenarios/', import.meta.url));

function load(name: string, patch: Partial<Scenario> = {}): Scenario {
  return { ...loadScenarioFile(`${dir}${name}.toml`), ...patch, baselines: { flat_gossip: false, flat_max_nodes: 500, flat_duration_s: 30, best_fit: true } };
}

function run(s: Scenario): RunResult {
  return runScenario(s, { baselines: false });
}

describe('sim scenarios at 1,000 hosts (real gossip and placement code)', function () {
  this.timeout(240_000);

  it('is deterministic with the real protocol: same seed, same trace; other seed, other trace', () => {
    const s = load('zone-crash', { nodes: 200, duration_s: 40, events: [{ at_s: 25, action: 'crash-zone', zone: 'r1-b' }] });
    const a = run(s);
    const b = run(s);
    const c = run({ ...s, seed: s.seed + 1 });
    assert.equal(a.traceHash, b.traceHash, `seed ${s.seed} run twice must give one trace hash (${a.traceHash} vs ${b.traceHash})`);
    assert.equal(a.deliveredEvents, b.deliveredEvents, `seed ${s.seed}: same number of events`);
    assert.notEqual(a.traceHash, c.traceHash, `seeds ${s.seed} and ${s.seed + 1} must give different traces`);
  });

  it('converges after a rate-limited cold start of the whole cluster', () => {
    const r = run(load('cold-start', { nodes: 1000 }));
    assert.equal(metric(r, 'handler_errors'), 0, `protocol code must not throw (${why(r)})`);
    const at = r.metrics['converged_at_s'];
    assert.ok(typeof at === 'number' && at <= 60, `every sampled host must have a correct view within 60 s of the start, got ${String(at)} (${why(r)})`);
    assert.ok(metric(r, 'final_converged_fraction') >= 0.99, `views must stay converged (${why(r)})`);
  });

  it('detects a failed zone: every live cell mate learns of every crashed host', () => {
    const r = run(load('zone-crash', { nodes: 1000 }));
    assert.equal(metric(r, 'handler_errors'), 0, `protocol code must not throw (${why(r)})`);
    assert.ok(metric(r, 'detected_fraction') >= 0.99, `≥ 99% of (observer, crashed host) pairs must see the crash, got ${metric(r, 'detected_fraction')} (${why(r)})`);
    assert.ok(metric(r, 'detection_known_p99_s') <= 5, `crash known within 5 s at p99, got ${metric(r, 'detection_known_p99_s').toFixed(2)} s (${why(r)})`);
    assert.ok(metric(r, 'converged_after_disturbance_max_s') <= 30, `views correct again within 30 s (${why(r)})`);
  });

  it('no storm: a 30% correlated failure keeps the peak message rate under 2× steady', () => {
    const r = run(load('zone-failure', { nodes: 1000 }));
    const steady = metric(r, 'steady_msgs_in_per_host_s');
    const peak = metric(r, 'peak_msgs_in_per_host_s');
    assert.ok(peak < 2 * steady, `peak ${peak.toFixed(1)} msgs/s per host must stay under 2 × steady ${steady.toFixed(1)} (${why(r)})`);
    assert.equal(metric(r, 'gossip_events_dropped'), 0, `bounded queues must not overflow (${why(r)})`);
  });

  it('no storm: a join wave of +20% in 2 s keeps the peak under 2× steady, and every view is whole after the split it causes', () => {
    const r = run(load('join-wave', { nodes: 1000 }));
    assert.equal(metric(r, 'handler_errors'), 0, `protocol code must not throw (${why(r)})`);
    const ratio = metric(r, 'peak_to_steady_msgs');
    assert.ok(ratio <= 2, `peak ÷ steady must stay ≤ 2 (newcomers announced in batches), got ${ratio.toFixed(2)} (${why(r)})`);
    assert.ok(metric(r, 'final_converged_fraction') >= 0.99, `views whole again in the new layout (${why(r)})`);
    assert.equal(metric(r, 'false_suspicions'), 0, `no false suspicion (${why(r)})`);
    console.log(`      seed ${r.seed}: peak ${ratio.toFixed(2)} × steady`);
  });

  it('the newcomers of a join wave that tips the cluster into a split follow the split (seed 3)', () => {
    // At seed 3 the 200 newcomers stayed in the old layout, held by a dwell of their own, and
    // their reporters' newer summaries of it replaced the new layout's everywhere: 19% of
    // views whole at the end of the run.
    const r = run(load('join-wave', { nodes: 1000, seed: 3 }));
    assert.ok(metric(r, 'final_converged_fraction') >= 0.99, `views whole again in the new layout, got ${metric(r, 'final_converged_fraction')} (${why(r)})`);
    const at = r.metrics['converged_at_s'];
    assert.ok(typeof at === 'number' && at <= 270 + 30, `every sampled view whole within 30 s of the wave at 270 s, got ${String(at)} (${why(r)})`);
  });

  it('rejects corrupted (bit-flipped) messages at their first hop: none applied, none forwarded', () => {
    const r = run(load('corrupted-message', { nodes: 1000 }));
    assert.ok(metric(r, 'corrupt_injected') >= 1, `the scenario must inject corrupted messages (${why(r)})`);
    assert.ok(metric(r, 'corrupt_receivers') >= 1, `corrupted messages must reach some first hop to be tested (${why(r)})`);
    assert.equal(metric(r, 'corrupt_accepted'), 0, `no host may accept a corrupted message (${why(r)})`);
    assert.equal(metric(r, 'corrupt_forwarders'), 0, `no host may forward a corrupted message (${why(r)})`);
    assert.ok(metric(r, 'corrupt_max_hop') <= 1, `a corrupted message must travel one hop at most (${why(r)})`);
  });

  it('a healed partition becomes one cluster again: every view whole, no restart', () => {
    const r = run(load('partition-heal', { nodes: 500, duration_s: 190 }));
    assert.equal(metric(r, 'handler_errors'), 0, `protocol code must not throw (${why(r)})`);
    assert.ok(metric(r, 'final_converged_fraction') >= 0.99, `≥ 99% of sampled views whole 70 s after the heal, got ${metric(r, 'final_converged_fraction')} (${why(r)})`);
    assert.equal(metric(r, 'false_suspicions'), 0, `no false suspicion (${why(r)})`);
  });

  it('placement never overcommits and never duplicates a job', () => {
    const r = run(load('placement-load', { nodes: 1000 }));
    assert.ok(metric(r, 'placement_placed') > 1000, `the load must place jobs to test anything, placed ${metric(r, 'placement_placed')} (${why(r)})`);
    assert.equal(metric(r, 'overcommitted_hosts'), 0, `no host may hold more than its capacity (${why(r)})`);
    assert.equal(metric(r, 'duplicate_jobs'), 0, `one idempotency key, one job (${why(r)})`);
    assert.equal(metric(r, 'duplicate_submit_mismatches'), 0, `the same key through two entry hosts must name one job (${why(r)})`);
    assert.equal(metric(r, 'placement_unanswered'), 0, `every request must get an answer (${why(r)})`);
  });
});

describe('sim: recovery of a failed zone (the unchanged Evacuator on every host)', function () {
  this.timeout(240_000);

  it('every job of a failed zone runs again once, also when evacuators fail mid-way', () => {
    const base = load('recovery-zone-failure', { nodes: 500, duration_s: 160 });
    // A second, random failure lands while the first zone's evacuations run (grace ends ~103 s).
    const s: Scenario = { ...base, events: [...base.events, { at_s: 104, action: 'crash-fraction', fraction: 0.03, by: 'random' }] };
    const r = run(s);
    assert.equal(metric(r, 'handler_errors'), 0, `protocol code must not throw (${why(r)})`);
    const onDown = metric(r, 'recovery_jobs_on_down_hosts');
    assert.ok(onDown > 300, `the failed hosts must hold jobs to move, held ${onDown} (${why(r)})`);
    assert.equal(metric(r, 'recovery_jobs_missing'), 0, `no job of a failed host may be left without a live copy (${why(r)})`);
    assert.equal(metric(r, 'recovery_jobs_running_twice'), 0, `no job may run twice (${why(r)})`);
    assert.equal(metric(r, 'duplicate_jobs'), 0, `one key, one live job (${why(r)})`);
    assert.ok(metric(r, 'recovery_replaced') >= onDown, `each job on a down host was re-placed (${metric(r, 'recovery_replaced')} of ${onDown}) (${why(r)})`);
    assert.ok(metric(r, 'recovery_all_running_after_s') <= 45, `jobs ran again within 45 s of the first failure, took ${metric(r, 'recovery_all_running_after_s')} s (${why(r)})`);
    console.log(`      seed ${r.seed}: ${onDown} jobs on failed hosts, all running again ${metric(r, 'recovery_all_running_after_s').toFixed(1)} s after the first failure (p50 downtime ${metric(r, 'recovery_job_downtime_p50_s').toFixed(1)} s)`);
  });
});
