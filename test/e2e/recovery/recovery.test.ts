import assert from 'node:assert/strict';
import { cli, curl, stopAllAgents, type AgentProcess } from '../../helpers/agent-process.ts';
import { members, selfOf, startCluster, type TestCluster } from '../../helpers/cluster.ts';
import { waitFor } from '../../helpers/wait-for.ts';
import {
  assertOnce,
  converged,
  events,
  isUp,
  liveCopies,
  localJobs,
  metric,
  recoveryOf,
  recoveryToml,
  submitJobs,
  waitReplicated,
  waitRunning,
} from './helpers.ts';

/**
 * No job lost, on real agents over loopback (one cell, fake driver): kill -9 of a host running
 * 20 jobs, its return (fenced, never started twice), a partition by SIGSTOP and its heal, a
 * drain, and an evacuator killed in the middle of its evacuation.
 */

const HOST = { vcpus: 32, memoryMiB: 65536, diskGiB: 100 };
const EVACUATE_AFTER_MS = 3_000;
const FENCE_CHECK_INTERVAL_MS = 10_000;
/** Failure detection on loopback is 2-3 s; a loaded 2-core box running other suites needs margin. */
const DETECTION_BOUND_MS = 10_000;
/** Stated in the README: jobs run again within detection + evacuate_after_ms + re-placement (20 jobs at 50/s) + a reconcile pass. */
const EVACUATION_BOUND_MS = DETECTION_BOUND_MS + EVACUATE_AFTER_MS + 20 * 20 + 4_000;
/** Stated in the README: after a heal, two copies run at most fence_check_interval_ms (plus a locate and a reconcile pass). */
const HEAL_BOUND_MS = FENCE_CHECK_INTERVAL_MS + 5_000;

function seconds(ms: number): string {
  return `${(ms / 1000).toFixed(1)} s`;
}

describe('recovery on 5 real agents: kill -9, return, partition, drain', function () {
  let cluster: TestCluster;
  let agents: AgentProcess[];

  before(async function () {
    this.timeout(120_000);
    cluster = await startCluster({
      size: 5,
      cellBits: 0,
      capacity: HOST,
      extraToml: recoveryToml({ evacuate_after_ms: EVACUATE_AFTER_MS, fence_check_interval_ms: FENCE_CHECK_INTERVAL_MS, start_fence_timeout_ms: 10_000 }),
    });
    agents = cluster.agents;
    await converged(cluster, agents, 5);
  });
  after(async () => {
    for (const a of agents ?? []) if (isUp(a)) a.proc.kill('SIGCONT');
    await stopAllAgents();
  });

  const F = 2;
  let moved: string[] = [];
  let pinned: { id: string; key: string }[] = [];

  it('kill -9 of a host running 20 jobs: all 20 run elsewhere within the bound, each once; evacuate: false jobs show lost from any agent', async function () {
    this.timeout(120_000);
    const jobs = submitJobs(agents[0]!, 'evac', 20, F, {}, cluster.ids[F]!);
    const keep = submitJobs(agents[1]!, 'pinned', 2, F, { evacuate: false }, cluster.ids[F]!);
    assert.ok([...jobs, ...keep].every((j) => j.host === cluster.ids[F]), 'the label preference put every job on the victim');
    moved = jobs.map((j) => j.spec.idempotencyKey);
    pinned = keep.map((j) => ({ id: j.id, key: j.spec.idempotencyKey }));
    await waitRunning(agents[F]!, 22, 'the victim to run its 22 jobs');
    await waitReplicated(agents[F]!, 'the victim\'s records to reach both replica holders');

    const t0 = Date.now();
    await agents[F]!.kill9();
    const survivors = agents.filter((_, i) => i !== F);
    await waitFor(
      () => {
        const copies = liveCopies(survivors);
        return moved.every((k) => copies.get(k)?.length === 1 && copies.get(k)![0]!.job.state === 'running');
      },
      { timeoutMs: 90_000, what: 'every evacuable job to run on a survivor' },
    );
    const tookMs = Date.now() - t0;
    console.log(`      20 jobs running again ${seconds(tookMs)} after kill -9 (bound ${seconds(EVACUATION_BOUND_MS)})`);
    assert.ok(tookMs <= EVACUATION_BOUND_MS, `evacuation took ${tookMs} ms, over the bound of ${EVACUATION_BOUND_MS} ms`);
    const copies = liveCopies(survivors);
    assertOnce(copies, moved, null, 'after evacuation');
    for (const k of moved) assert.equal(copies.get(k)![0]!.job.epoch, 2, `${k} runs at epoch 2 (one re-placement)`);

    // Exactly one survivor evacuated, and said so.
    const evacuated = survivors.flatMap((a) => events(a, 'job.evacuated'));
    assert.equal(evacuated.length, 20, `one job.evacuated per job, from one evacuator: ${evacuated.length}`);
    assert.equal(new Set(evacuated.map((e) => e.jobId)).size, 20);
    const replaced = survivors.reduce((n, a) => n + metric(a, 'shoal_recovery_jobs_replaced_total{reason="evacuation"}'), 0);
    assert.equal(replaced, 20, 'shoal_recovery_jobs_replaced_total counts 20 evacuations');
    assert.equal(survivors.reduce((n, a) => n + metric(a, 'shoal_recovery_evacuation_seconds_count'), 0), 1, 'one evacuation timed');

    // evacuate: false → lost, visible through `shoal status` from an agent that never held it.
    await waitFor(() => survivors.flatMap((a) => events(a, 'job.lost')).length === 2, { timeoutMs: 10_000, what: 'two job.lost events' });
    for (const p of pinned) {
      // The evacuator also re-binds the job at its key owner (which may have died with the host): wait for that.
      const r = await waitFor(
        () => {
          const out = cli(['status', p.id, '--json'], { address: agents[4]!.address });
          return out.code === 0 ? out : undefined;
        },
        { timeoutMs: 15_000, what: `shoal status ${p.id} to answer from another agent` },
      );
      const job = JSON.parse(r.stdout) as { state: string; reason: string };
      assert.equal(job.state, 'lost', `a job that must not move is reported lost: ${r.stdout}`);
      assert.match(job.reason, /evacuate: false/);
      assert.equal((liveCopies(survivors).get(p.key) ?? []).length, 0, `${p.key} was not started elsewhere`);
    }
  });

  it('the host comes back: its stale copies are fenced before its drivers start, its pinned jobs run again there', async function () {
    this.timeout(120_000);
    const t0 = Date.now();
    await agents[F]!.restart();
    console.log(`      agent back and healthy ${seconds(Date.now() - t0)} after restart (its jobs waited for the fence check)`);
    const mine = localJobs(agents[F]!);
    const stale = mine.filter((j) => moved.includes(j.spec.idempotencyKey));
    assert.equal(stale.length, 20, 'the returning host still has its 20 old records');
    for (const j of stale) assert.equal(j.state, 'fenced', `${j.spec.idempotencyKey} must be fenced, is ${j.state} (${j.reason ?? ''})`);
    const started = new Set(events(agents[F]!, 'job.started').map((e) => e.jobId));
    for (const j of stale) assert.ok(!started.has(j.id), `${j.spec.idempotencyKey} was started on the returning host before being fenced`);
    assert.equal(events(agents[F]!, 'job.fenced').filter((e) => e.supersededBy !== undefined).length, 20, 'one job.fenced event per stale copy');

    await waitRunning(agents[F]!, 2, 'the two pinned jobs to run again on their host');
    const copies = liveCopies(agents);
    assertOnce(copies, moved, F, 'after the return');
    assertOnce(copies, pinned.map((p) => p.key), null, 'pinned jobs');
    for (const p of pinned) assert.equal(copies.get(p.key)![0]!.agent, F, `${p.key} runs on its own host again`);
    const self = curl(agents[F]!.socket, 'GET', '/v1/agent/self').body as { capacity: { reserved: { vcpus: number } } };
    assert.equal(self.capacity.reserved.vcpus, 2, 'only the pinned jobs hold capacity on the returned host');
  });

  it('a partition (SIGSTOP past evacuation) then a heal: at most one running copy of each job once the bound has passed', async function () {
    this.timeout(150_000);
    const P = 3;
    const keys = submitJobs(agents[0]!, 'part', 5, P, {}, cluster.ids[P]!).map((j) => j.spec.idempotencyKey);
    await waitRunning(agents[P]!, 5, 'the partitioned host to run its 5 jobs');
    await waitReplicated(agents[P]!, 'its records to reach its holders');
    const others = agents.filter((_, i) => i !== P);
    agents[P]!.proc.kill('SIGSTOP');
    try {
      await waitFor(
        () => {
          const copies = liveCopies(others);
          return keys.every((k) => copies.get(k)?.[0]?.job.state === 'running');
        },
        { timeoutMs: 60_000, what: 'the frozen host\'s jobs to run elsewhere' },
      );
    } finally {
      agents[P]!.proc.kill('SIGCONT');
    }
    const healedAt = Date.now();
    // Right after the heal both copies may run: the stale one believes it is still the job.
    await waitFor(
      () => {
        const copies = liveCopies(agents);
        return keys.every((k) => (copies.get(k) ?? []).length === 1);
      },
      { timeoutMs: 60_000, what: 'one live copy per job after the heal' },
    );
    const tookMs = Date.now() - healedAt;
    console.log(`      two copies ran for ${seconds(tookMs)} after the heal (bound ${seconds(HEAL_BOUND_MS)})`);
    assert.ok(tookMs <= HEAL_BOUND_MS, `stale copies ran ${tookMs} ms after the heal, over the bound of ${HEAL_BOUND_MS} ms`);
    assertOnce(liveCopies(agents), keys, P, 'after the heal');
    for (const j of localJobs(agents[P]!).filter((x) => keys.includes(x.spec.idempotencyKey))) assert.equal(j.state, 'fenced', `${j.spec.idempotencyKey} fenced on the healed host`);
  });

  it('drain moves every job and leaves the host empty; --cancel undoes it; the state shows in shoal members', async function () {
    this.timeout(120_000);
    const D = 4;
    const dId = cluster.ids[D]!;
    const keys = submitJobs(agents[0]!, 'drain', 6, D, {}, dId).map((j) => j.spec.idempotencyKey);
    await waitRunning(agents[D]!, 6, 'the host to drain to run its 6 jobs');
    // It may also run jobs evacuated to it by the earlier tests: a drain moves those too.
    const onD = localJobs(agents[D]!).filter((j) => j.state === 'running').map((j) => j.spec.idempotencyKey);

    const t0 = Date.now();
    const r = cli(['drain', dId, '--wait', '--json'], { address: agents[1]!.address });
    assert.equal(r.code, 0, `shoal drain --wait: ${r.stderr}`);
    const status = JSON.parse(r.stdout) as { draining: boolean; drained: boolean; moved: number; remaining: number };
    console.log(`      drained ${onD.length} jobs in ${seconds(Date.now() - t0)}`);
    assert.deepEqual([status.draining, status.drained, status.moved, status.remaining], [true, true, onD.length, 0], `drain status: ${r.stdout}`);
    assert.ok(keys.every((k) => onD.includes(k)));
    await waitFor(() => onD.every((k) => liveCopies(agents).get(k)?.[0]?.job.state === 'running'), { timeoutMs: 30_000, what: 'drained jobs running elsewhere' });
    assertOnce(liveCopies(agents), onD, D, 'after the drain');
    assert.equal(localJobs(agents[D]!).filter((j) => j.state !== 'fenced' && j.desired === 'running' && j.state !== 'stopped').length, 0, 'no job left on the drained host');
    const self = curl(agents[D]!.socket, 'GET', '/v1/agent/self').body as { draining: boolean; capacity: { reserved: { vcpus: number; memoryMiB: number } } };
    assert.equal(self.draining, true);
    assert.deepEqual([self.capacity.reserved.vcpus, self.capacity.reserved.memoryMiB], [0, 0], 'the drained host holds no capacity');
    await waitFor(() => /\(draining\)/.test(cli(['members'], { address: agents[0]!.address }).stdout.split('\n').find((l) => l.includes(dId.slice(-8))) ?? ''), {
      timeoutMs: 20_000,
      what: '`shoal members` on another agent to show the host draining',
    });
    const during = submitJobs(agents[0]!, 'while-draining', 1, D)[0]!;
    assert.notEqual(during.host, dId, 'a draining host takes no new placement, whatever the preference');

    const c = cli(['drain', dId, '--cancel', '--json'], { address: agents[2]!.address });
    assert.equal(c.code, 0, c.stderr);
    assert.equal((JSON.parse(c.stdout) as { draining: boolean }).draining, false);
    await waitFor(() => members(agents[0]!).some((m) => m.id === dId && !(m as unknown as { draining: boolean }).draining), {
      timeoutMs: 20_000,
      what: 'the cancelled drain to reach gossip',
    });
    const after = submitJobs(agents[0]!, 'after-cancel', 1, D, {}, dId)[0]!;
    assert.equal(after.host, dId, 'placements land on the host again after --cancel');
    assert.equal(cli(['drain', 'nosuchhost'], { address: agents[0]!.address }).code, 1, 'an unknown host is an error');
    assert.equal(curl(agents[0]!.socket, 'POST', '/v1/agent/drain', { host: 'nosuchhost' }).status, 404, 'RECOVERY_UNKNOWN_HOST is a 404');
    assert.equal(curl(agents[0]!.socket, 'POST', '/v1/agent/drain', { host: dId, extra: 1 }).status, 400, 'unknown fields are refused');
    assert.equal(selfOf(agents[D]!).id, dId);
  });
});

describe('recovery on 4 real agents: an evacuator killed in the middle of its evacuation', function () {
  let cluster: TestCluster;
  let agents: AgentProcess[];

  before(async function () {
    this.timeout(120_000);
    cluster = await startCluster({
      size: 4,
      cellBits: 0,
      capacity: HOST,
      // Slow evacuation (3 jobs/s, one at a time) so there is a middle to kill it in.
      extraToml: recoveryToml({ evacuate_after_ms: 2_000, max_replacements_per_sec: 3, max_concurrent_replacements: 1 }),
    });
    agents = cluster.agents;
    await converged(cluster, agents, 4);
  });
  after(() => stopAllAgents());

  it('the next replica holder completes the evacuation: every job runs once', async function () {
    this.timeout(150_000);
    const G = 1;
    const keys = submitJobs(agents[0]!, 'mid', 20, G, {}, cluster.ids[G]!).map((j) => j.spec.idempotencyKey);
    await waitRunning(agents[G]!, 20, 'the victim to run its 20 jobs');
    await waitReplicated(agents[G]!, 'its records to reach both holders');
    const t0 = Date.now();
    await agents[G]!.kill9();
    const gId = cluster.ids[G]!;
    const others = [0, 2, 3];
    // Wrapped in an object: agent 0 may be the evacuator, and waitFor takes a bare 0 for "not yet".
    const { evacuator } = await waitFor(
      () => {
        const i = others.find((j) => {
          const w = recoveryOf(agents[j]!).evacuations.find((e) => e.owner === gId);
          return w !== undefined && w.evacuating && w.replaced >= 2;
        });
        return i === undefined ? undefined : { evacuator: i };
      },
      { timeoutMs: 60_000, intervalMs: 20, what: 'an evacuator to have re-placed 2 jobs' },
    );
    const progress = recoveryOf(agents[evacuator]!).evacuations.find((e) => e.owner === gId)!;
    await agents[evacuator]!.kill9();
    console.log(`      killed the evacuator (agent ${evacuator}) after ${progress.replaced} of 20 re-placements, ${seconds(Date.now() - t0)} after the first kill`);
    assert.ok(progress.replaced < 20, 'killed in the middle');
    const survivors = others.filter((i) => i !== evacuator).map((i) => agents[i]!);
    await waitFor(
      () => {
        const copies = liveCopies(survivors);
        return keys.every((k) => copies.get(k)?.length === 1 && copies.get(k)![0]!.job.state === 'running');
      },
      { timeoutMs: 120_000, what: 'all 20 jobs to run on the two survivors' },
    );
    console.log(`      all 20 running on the survivors ${seconds(Date.now() - t0)} after the first kill`);
    assertOnce(liveCopies(survivors), keys, null, 'after the resumed evacuation');
    const resumed = survivors.map((a) => recoveryOf(a).evacuations.find((e) => e.owner === gId)).find((e) => e?.last !== null && e?.last !== undefined);
    assert.ok(resumed !== undefined, 'a survivor finished the evacuation of the first host');
    console.log(`      the resuming holder re-placed ${resumed!.last!.replaced} (settled ones skipped, the rest answered idempotently)`);
  });
});
