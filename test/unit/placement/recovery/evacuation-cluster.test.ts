import assert from 'node:assert/strict';
import type { JobSpec } from '../../../../src/core/job.ts';
import type { PeerIdStr } from '../../../../src/core/transport.ts';
import type { SubmitOutcome } from '../../../../src/placement/index.ts';
import {
  Evacuator,
  recoveryOptions,
  replaceResultOf,
  replicaHolders,
  type ReplicaJob,
  type ReplicaSource,
} from '../../../../src/placement/recovery/index.ts';
import { PlacementHarness, type HarnessHost } from '../cluster-harness.ts';
import { spec } from '../fixtures.ts';

/**
 * The recovery core driven the way the simulator drives it: real PlacementNodes and
 * HostLedgers in virtual time (the placement harness), one pure Evacuator per host, replicas
 * kept in memory (each up owner's ledger copied to its ring successors), outcomes recorded at
 * every holder. No I/O and no wall clock: this is the hook `simulations/` can use at 100k hosts.
 */

const SEED = Number(process.env.RECOVERY_SEED ?? 23);

interface Replica {
  holders: PeerIdStr[];
  jobs: Map<string, ReplicaJob>;
}

class RecoveryWorld {
  readonly h: PlacementHarness;
  readonly specs = new Map<string, JobSpec>();
  /** Per holder: owner → replica. */
  readonly stores = new Map<PeerIdStr, Map<PeerIdStr, Replica>>();
  readonly evacuators = new Map<PeerIdStr, Evacuator>();
  readonly pending: { evac: Evacuator; owner: PeerIdStr; jobId: string; holder: { outcome: SubmitOutcome | null } }[] = [];
  replacedBy = new Map<PeerIdStr, number>();

  constructor(hosts: number, cellBits: number, seed: number, zone?: (i: number) => string) {
    this.h = new PlacementHarness({ hosts, cellBits, seed, detectMs: 2_000, viewRefreshMs: hosts > 100 ? 1_000 : 200, ...(zone ? { zone } : {}) });
    const opts = recoveryOptions({ evacuateAfterMs: 5_000, maxConcurrentReplacements: 2, maxReplacementsPerSec: 10 });
    for (const host of this.h.hosts) {
      const store = new Map<PeerIdStr, Replica>();
      this.stores.set(host.peer, store);
      const source: ReplicaSource = {
        owners: () => store.keys(),
        holdersOf: (o) => store.get(o)?.holders ?? [],
        jobsOf: (o) => store.get(o)?.jobs.values() ?? [],
      };
      const evac: Evacuator = new Evacuator(
        opts,
        {
          self: host.peer,
          replicas: source,
          statusOf: (p) => host.view.cellMember(p)?.status,
          outbox: {
            replace: (owner, job) => {
              const s = this.specs.get(job.jobId)!;
              const holder = this.h.replace(host.index, s, { jobId: job.jobId, fromHost: owner, fromEpoch: job.epoch, driver: 'fake' });
              this.pending.push({ evac, owner, jobId: job.jobId, holder });
            },
            lose: () => assert.fail('no job here asks not to be moved'),
            started: () => undefined,
            finished: () => undefined,
          },
          metrics: null,
        },
        0,
      );
      this.evacuators.set(host.peer, evac);
    }
  }

  up(host: HarnessHost): boolean {
    return host.downSinceMs === null;
  }

  /** Every up owner's reservations copied to its current holders (a full sync each step, as pushes would converge to). */
  replicate(): void {
    for (const owner of this.h.hosts) {
      if (!this.up(owner)) continue;
      const holders = replicaHolders(owner.peer, owner.view.cellMembers(), 2);
      for (const hp of holders) {
        const store = this.stores.get(hp)!;
        const prev = store.get(owner.peer);
        const jobs = new Map<string, ReplicaJob>();
        for (const r of owner.ledger.reservations()) {
          jobs.set(r.jobId, { jobId: r.jobId, epoch: r.epoch, evacuate: true, replaceable: true, wantsRunning: true, settled: prev?.jobs.get(r.jobId)?.settled ?? false });
        }
        store.set(owner.peer, { holders, jobs });
      }
    }
  }

  /** An outcome recorded at every holder of the owner (as the agent's evacuation runner does). */
  settle(owner: PeerIdStr, jobId: string): void {
    for (const store of this.stores.values()) {
      const r = store.get(owner);
      const j = r?.jobs.get(jobId);
      if (r !== undefined && j !== undefined) r.jobs.set(jobId, { ...j, settled: true });
    }
  }

  step(ms: number): void {
    this.h.runFor(ms);
    this.replicate();
    for (let i = this.pending.length - 1; i >= 0; i--) {
      const p = this.pending[i]!;
      if (p.holder.outcome === null) continue;
      this.pending.splice(i, 1);
      const self = [...this.evacuators].find(([, e]) => e === p.evac)![0];
      if (this.h.byPeer.get(self)!.downSinceMs !== null) continue; // its evacuator died meanwhile
      const result = replaceResultOf(p.holder.outcome, p.owner);
      if (result.type === 'replaced') {
        this.settle(p.owner, p.jobId);
        this.replacedBy.set(self, (this.replacedBy.get(self) ?? 0) + 1);
      }
      p.evac.onResult(p.owner, p.jobId, result, this.h.now);
    }
    for (const host of this.h.hosts) if (this.up(host)) this.evacuators.get(host.peer)!.onTimer(this.h.now);
  }

  /** Up hosts holding a reservation for the job. */
  copies(jobId: string): HarnessHost[] {
    return this.h.hosts.filter((x) => this.up(x) && x.ledger.get(jobId) !== undefined);
  }
}

describe('recovery core at cluster scale, in virtual time (the simulator hook)', function () {
  before(() => console.log(`      seed ${SEED}`));

  it('a failed host\'s jobs are re-placed once each, and a second failure of its evacuator mid-way is resumed', function () {
    const w = new RecoveryWorld(24, 1, SEED);
    for (let i = 0; i < 80; i++) {
      const s = spec({ name: `j${i}`, idempotencyKey: `job-${i}` });
      const r = w.h.submit(i % 24, s);
      w.h.runUntil(() => r.outcome !== null, 30_000);
      assert.equal(r.outcome!.type, 'placed', `placing job-${i}: ${JSON.stringify(r.outcome)}`);
      w.specs.set((r.outcome as { jobId: string }).jobId, s);
    }
    for (let t = 0; t < 10; t++) w.step(100);
    const victim = [...w.h.hosts].sort((a, b) => b.ledger.size - a.ledger.size)[0]!;
    const victimJobs = [...victim.ledger.reservations()].map((r) => ({ jobId: r.jobId, epoch: r.epoch }));
    assert.ok(victimJobs.length >= 5, `the victim holds a few jobs (${victimJobs.length})`);
    const crashAt = w.h.now;
    w.h.crash(victim);

    // Run until some evacuator has re-placed a few of the victim's jobs, then kill it.
    let evacuator: HarnessHost | undefined;
    for (let t = 0; t < 400 && evacuator === undefined; t++) {
      w.step(50);
      const e = [...w.replacedBy].find(([, n]) => n >= 2);
      if (e !== undefined) evacuator = w.h.byPeer.get(e[0]);
    }
    assert.ok(evacuator !== undefined, 'an evacuator started re-placing');
    assert.ok((w.replacedBy.get(evacuator!.peer) ?? 0) < victimJobs.length, 'killed before it finished');
    const evacuatorJobs = [...evacuator!.ledger.reservations()].map((r) => r.jobId);
    w.h.crash(evacuator!);

    const lost = new Set([...victimJobs.map((j) => j.jobId), ...evacuatorJobs]);
    let doneAt = -1;
    for (let t = 0; t < 1200; t++) {
      w.step(100);
      if ([...lost].every((id) => w.copies(id).length === 1) && w.pending.length === 0) {
        doneAt = w.h.now;
        break;
      }
    }
    assert.ok(doneAt >= 0, `not every job of the two failed hosts runs again: ${[...lost].filter((id) => w.copies(id).length !== 1).join(', ')}`);
    console.log(`      ${lost.size} jobs of 2 failed hosts placed again ${((doneAt - crashAt) / 1000).toFixed(1)} s (virtual) after the first crash`);
    for (const { jobId, epoch } of victimJobs) {
      const c = w.copies(jobId);
      assert.equal(c.length, 1, `${jobId}: one live copy`);
      assert.ok(c[0]!.ledger.get(jobId)!.epoch > epoch, `${jobId} runs at a higher epoch than the failed copy`);
    }
    // No job anywhere is held twice by live hosts.
    for (const jobId of w.specs.keys()) assert.ok(w.copies(jobId).length <= 1, `${jobId} has ${w.copies(jobId).length} live copies`);
  });

  it('a whole zone (10% of 500 hosts) fails: every job of it runs again once, no replica set is lost with it', function () {
    this.timeout(60_000);
    const w = new RecoveryWorld(500, 3, SEED + 2, (i) => `z${i % 10}`);
    const subs: { r: { outcome: SubmitOutcome | null }; s: JobSpec }[] = [];
    for (let i = 0; i < 1500; i++) {
      const s = spec({ name: `j${i}`, idempotencyKey: `zone-${i}`, policy: 'spread' });
      subs.push({ r: w.h.submit(i % 500, s), s });
      if (i % 50 === 49) w.h.runFor(100);
    }
    w.h.runUntil(() => subs.every((x) => x.r.outcome !== null), 60_000);
    for (const x of subs) {
      assert.equal(x.r.outcome!.type, 'placed', `placing ${x.s.idempotencyKey}: ${JSON.stringify(x.r.outcome)}`);
      w.specs.set((x.r.outcome as { jobId: string }).jobId, x.s);
    }
    for (let t = 0; t < 20; t++) w.step(100);
    const zone = w.h.hosts.filter((x) => x.index % 10 === 3);
    const moving = new Set(zone.flatMap((x) => [...x.ledger.reservations()].map((r) => r.jobId)));
    const crashAt = w.h.now;
    for (const x of zone) w.h.crash(x);
    let doneAt = -1;
    for (let t = 0; t < 600 && doneAt < 0; t++) {
      w.step(100);
      if (t % 5 === 0 && [...moving].every((id) => w.copies(id).length === 1)) doneAt = w.h.now;
    }
    const missing = [...moving].filter((id) => w.copies(id).length === 0);
    const dup = [...w.specs.keys()].filter((id) => w.copies(id).length > 1);
    console.log(`      zone of ${zone.length} hosts, ${moving.size} jobs: all running again ${((doneAt - crashAt) / 1000).toFixed(1)} s (virtual) after the failure, ${missing.length} missing, ${dup.length} duplicated`);
    assert.deepEqual(missing, [], 'no job of the failed zone is left without a copy');
    assert.deepEqual(dup, [], 'no job runs twice');
    // Detection (2 s) + evacuate_after_ms (5 s) + ~4 jobs per evacuator at 10/s + view refreshes.
    assert.ok(doneAt - crashAt <= 15_000, `recovery took ${doneAt - crashAt} ms of virtual time`);
  });

  it('is deterministic: one seed, one outcome', function () {
    const run = (): string => {
      const w = new RecoveryWorld(12, 0, SEED + 1);
      for (let i = 0; i < 30; i++) {
        const s = spec({ name: `j${i}`, idempotencyKey: `d-${i}` });
        const r = w.h.submit(i % 12, s);
        w.h.runUntil(() => r.outcome !== null, 30_000);
        w.specs.set((r.outcome as { jobId: string }).jobId, s);
      }
      w.step(500);
      w.h.crash(w.h.hosts[3]!);
      for (let t = 0; t < 300; t++) w.step(100);
      return JSON.stringify(w.h.hosts.map((x) => [...x.ledger.reservations()].map((r) => `${r.jobId}@${r.epoch}`).sort()));
    };
    assert.equal(run(), run(), 'two runs from one seed differ');
  });
});
