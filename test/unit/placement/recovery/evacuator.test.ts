import assert from 'node:assert/strict';
import type { PeerIdStr } from '../../../../src/core/transport.ts';
import type { MemberStatus } from '../../../../src/gossip/records.ts';
import {
  Evacuator,
  recoveryOptions,
  type EvacuationReport,
  type RecoveryOptions,
  type ReplaceResult,
  type ReplicaJob,
  type ReplicaSource,
} from '../../../../src/placement/recovery/index.ts';

/** A fake replica store and view for one node, and a recording outbox. */
class Fixture implements ReplicaSource {
  readonly holders = new Map<PeerIdStr, PeerIdStr[]>();
  readonly jobs = new Map<PeerIdStr, Map<string, ReplicaJob>>();
  readonly status = new Map<PeerIdStr, MemberStatus>();
  readonly replaced: { owner: PeerIdStr; jobId: string; at: number }[] = [];
  readonly lost: { owner: PeerIdStr; jobId: string; reason: string }[] = [];
  readonly started: { owner: PeerIdStr; jobs: number; at: number }[] = [];
  readonly finished: EvacuationReport[] = [];
  /** When set, `replace` answers synchronously with this. */
  answerAtOnce: ReplaceResult | null = null;
  readonly self: PeerIdStr;
  readonly evacuator: Evacuator;
  now = 0;

  constructor(self: PeerIdStr, opts: Partial<RecoveryOptions> = {}) {
    this.self = self;
    this.evacuator = new Evacuator(
      recoveryOptions({ evacuateAfterMs: 10_000, evacuateLeftAfterMs: 60_000, unknownHostGraceMs: 30_000, maxConcurrentReplacements: 2, maxReplacementsPerSec: 100, ...opts }),
      {
        self,
        replicas: this,
        statusOf: (p) => this.status.get(p),
        outbox: {
          replace: (owner, job, now) => {
            this.replaced.push({ owner, jobId: job.jobId, at: now });
            if (this.answerAtOnce !== null) this.evacuator.onResult(owner, job.jobId, this.answerAtOnce, now);
          },
          lose: (owner, job, reason) => this.lost.push({ owner, jobId: job.jobId, reason }),
          started: (owner, jobs, now) => this.started.push({ owner, jobs, at: now }),
          finished: (report) => this.finished.push(report),
        },
        metrics: null,
      },
      0,
    );
  }

  owners(): Iterable<PeerIdStr> {
    return this.jobs.keys();
  }

  holdersOf(owner: PeerIdStr): readonly PeerIdStr[] {
    return this.holders.get(owner) ?? [];
  }

  jobsOf(owner: PeerIdStr): Iterable<ReplicaJob> {
    return this.jobs.get(owner)?.values() ?? [];
  }

  hold(owner: PeerIdStr, holders: PeerIdStr[], n: number, over: Partial<ReplicaJob> = {}): void {
    this.holders.set(owner, holders);
    const m = new Map<string, ReplicaJob>();
    for (let i = 0; i < n; i++) {
      const jobId = `${owner}-job-${i}`;
      m.set(jobId, { jobId, epoch: 1, evacuate: true, replaceable: true, wantsRunning: true, settled: false, ...over });
    }
    this.jobs.set(owner, m);
  }

  /** Advances time in steps, ticking the evacuator at its timers and every `stepMs`. */
  advance(toMs: number, stepMs = 100): void {
    while (this.now < toMs) {
      const next = Math.min(toMs, this.now + stepMs, Math.max(this.now + 1, this.evacuator.nextTimerAtMs()));
      this.now = next;
      this.evacuator.onTimer(this.now);
    }
  }

  answerAll(result: ReplaceResult): void {
    const pending = this.replaced.splice(0);
    for (const r of pending) this.evacuator.onResult(r.owner, r.jobId, result, this.now);
  }
}

describe('recovery: the evacuation state machine', () => {
  it('waits for the grace period after a failure, then re-places every job that should run', () => {
    const f = new Fixture('a');
    f.status.set('f', 'alive');
    f.status.set('b', 'alive');
    f.hold('f', ['a', 'b'], 3);
    f.advance(1000);
    f.status.set('f', 'failed');
    f.evacuator.onMemberEvent('f', 'failed', 1000);
    f.advance(10_999);
    assert.equal(f.started.length, 0, 'nothing moves before evacuate_after_ms has passed');
    f.advance(11_000);
    assert.equal(f.started.length, 1, 'evacuation starts when the grace ends');
    assert.equal(f.started[0]!.at, 11_000, 'exactly when due (the evacuator asked for a timer then)');
    f.advance(11_050, 1);
    assert.equal(f.replaced.length, 2, 'at most maxConcurrentReplacements in flight');
    assert.equal(f.replaced[1]!.at - f.replaced[0]!.at, 10, 'starts spaced by 1/maxReplacementsPerSec');
    f.answerAll({ type: 'replaced', host: 'x', epoch: 2 });
    f.advance(11_100);
    assert.equal(f.replaced.length, 1, 'the third job goes once a slot frees');
    f.answerAll({ type: 'replaced', host: 'x', epoch: 2 });
    assert.equal(f.finished.length, 1, 'the evacuation reports completion');
    const r = f.finished[0]!;
    assert.equal(r.replaced, 3);
    assert.equal(r.downSinceMs, 1000, 'measured from the failure event');
    assert.equal(f.evacuator.stats.evacuationsCompleted, 1);
    f.advance(20_000);
    assert.equal(f.started.length, 1, 'a finished evacuation does not start again while the host stays down');
  });

  it('only the first up holder acts; the next takes over when it fails, skipping settled jobs', () => {
    const second = new Fixture('b');
    second.status.set('a', 'alive');
    second.hold('f', ['a', 'b'], 4);
    second.status.set('f', 'failed');
    second.advance(15_000);
    assert.equal(second.started.length, 0, 'b waits: a is the first holder and is up');
    // a evacuated two jobs before dying; their outcomes reached b.
    const jobs = second.jobs.get('f')!;
    for (const id of ['f-job-0', 'f-job-1']) jobs.set(id, { ...jobs.get(id)!, settled: true });
    second.status.set('a', 'suspect');
    second.advance(16_000);
    assert.equal(second.started.length, 0, 'a merely suspected: still up, b keeps waiting');
    second.status.set('a', 'failed');
    second.evacuator.onMemberEvent('a', 'failed', 16_000);
    second.advance(16_200);
    assert.equal(second.started.length, 1, 'b resumes as soon as a is failed (f is long overdue)');
    assert.deepEqual(second.replaced.map((r) => r.jobId).sort(), ['f-job-2', 'f-job-3'], 'only the jobs a did not settle');
  });

  it('cancels when the host comes back, and evacuates again only after a new failure', () => {
    const f = new Fixture('a');
    f.hold('f', ['a'], 3);
    f.status.set('f', 'failed');
    f.advance(10_200, 10);
    assert.equal(f.started.length, 1);
    assert.equal(f.replaced.length, 2);
    f.status.set('f', 'alive');
    f.advance(10_300);
    assert.equal(f.evacuator.stats.evacuationsCancelled, 1, 'the host is back: the rest stays where it is');
    f.answerAll({ type: 'replaced', host: 'x', epoch: 2 });
    f.advance(12_000);
    assert.equal(f.replaced.length, 0, 'no new re-placement for a host that is up');
    assert.equal(f.finished.length, 0, 'a cancelled evacuation is not reported complete');
    f.status.set('f', 'failed');
    f.advance(22_300);
    assert.equal(f.started.length, 2, 'a second outage starts a second evacuation after its own grace');
  });

  it('reports jobs lost instead of moving them when evacuate is false or they cannot be re-placed', () => {
    const f = new Fixture('a');
    f.hold('f', ['a'], 2, { evacuate: false });
    f.jobs.get('f')!.set('imported', { jobId: 'imported', epoch: 1, evacuate: true, replaceable: false, wantsRunning: true, settled: false });
    f.jobs.get('f')!.set('stopped', { jobId: 'stopped', epoch: 1, evacuate: true, replaceable: true, wantsRunning: false, settled: false });
    f.status.set('f', 'failed');
    f.advance(10_100);
    assert.deepEqual(f.lost.map((l) => l.jobId).sort(), ['f-job-0', 'f-job-1', 'imported'], 'lost, with nothing re-placed');
    assert.match(f.lost.find((l) => l.jobId === 'f-job-0')!.reason, /evacuate: false/);
    assert.match(f.lost.find((l) => l.jobId === 'imported')!.reason, /no idempotency key/);
    assert.equal(f.replaced.length, 0, 'a stopped job is not started elsewhere');
    assert.equal(f.finished.length, 1, 'done at once');
    assert.equal(f.finished[0]!.lost, 3);
  });

  it('retries a refused re-placement with doubling back-off', () => {
    const f = new Fixture('a', { retryInitialMs: 1000, retryMaxMs: 4000 });
    f.hold('f', ['a'], 1);
    f.status.set('f', 'failed');
    f.advance(10_000);
    const tries: number[] = [];
    for (let i = 0; i < 5; i++) {
      const until = f.now + 5000;
      while (f.replaced.length === 0 && f.now < until) f.advance(f.now + 10, 10);
      assert.equal(f.replaced.length, 1, `try ${i + 1} happened`);
      tries.push(f.replaced[0]!.at);
      f.answerAll({ type: 'retry', reason: 'no host with 4 vCPUs free' });
    }
    const gaps = tries.slice(1).map((t, i) => t - tries[i]!);
    assert.deepEqual(gaps, [1000, 2000, 4000, 4000], 'back-off 1 s, 2 s, 4 s, capped at retryMaxMs');
    assert.equal(f.finished.length, 0, 'a job nobody can take keeps the evacuation open');
    assert.equal(f.evacuator.status()[0]!.pending, 1, 'and shows as pending');
    assert.equal(f.evacuator.status()[0]!.lastRetryReason, 'no host with 4 vCPUs free', 'with the reason it could not be placed');
  });

  it('spaces re-placement starts by maxReplacementsPerSec', () => {
    const f = new Fixture('a', { maxConcurrentReplacements: 100, maxReplacementsPerSec: 10 });
    f.hold('f', ['a'], 5);
    f.status.set('f', 'failed');
    f.advance(10_000);
    f.advance(11_000, 10);
    const at = f.replaced.map((r) => r.at);
    assert.equal(at.length, 5);
    assert.deepEqual(at.slice(1).map((t, i) => t - at[i]!), [100, 100, 100, 100], '100 ms apart at 10/s');
  });

  it('handles a driver that answers inside replace() without re-entering itself', () => {
    const f = new Fixture('a', { maxConcurrentReplacements: 1, maxReplacementsPerSec: 1000 });
    f.answerAtOnce = { type: 'replaced', host: 'x', epoch: 2 };
    f.hold('f', ['a'], 4);
    f.status.set('f', 'failed');
    f.advance(10_100, 1);
    assert.equal(f.finished.length, 1, 'all four answered synchronously, one at a time');
    assert.equal(f.finished[0]!.replaced, 4);
  });

  it('gives a host that left gracefully the longer grace, and the short one once it is declared failed', () => {
    const f = new Fixture('a');
    f.hold('f', ['a'], 1);
    f.status.set('f', 'alive');
    f.advance(100);
    f.status.set('f', 'left');
    f.evacuator.onMemberEvent('f', 'left', 100);
    f.advance(30_000);
    assert.equal(f.started.length, 0, 'a leave is usually a restart: wait evacuate_left_after_ms');
    f.advance(60_200);
    assert.equal(f.started.length, 1, 'moved once the left grace is over');
  });

  it('waits unknown_host_grace_ms for a host it has never seen since it started (its view may be incomplete)', () => {
    const f = new Fixture('a');
    f.hold('f', ['a'], 1);
    f.advance(15_000);
    assert.equal(f.started.length, 0, 'never seen: not yet');
    f.advance(30_100);
    assert.equal(f.started.length, 1, 'after the unknown-host grace');
  });

  it('forgets an owner whose replicas are gone, cancelling its evacuation', () => {
    const f = new Fixture('a');
    f.hold('f', ['a'], 3);
    f.status.set('f', 'failed');
    f.advance(10_100);
    f.jobs.delete('f');
    f.advance(10_200);
    assert.equal(f.evacuator.status().length, 0, 'not watched any more');
    assert.equal(f.evacuator.stats.evacuationsCancelled, 1);
  });

  it('is deterministic: the same inputs give the same steps', () => {
    const run = (): string => {
      const f = new Fixture('a', { maxConcurrentReplacements: 3 });
      f.hold('f', ['a', 'b'], 7);
      f.hold('g', ['c', 'a'], 5);
      f.status.set('f', 'failed');
      f.status.set('g', 'failed');
      f.status.set('c', 'failed');
      f.advance(12_000, 37);
      f.answerAll({ type: 'retry', reason: 'x' });
      f.advance(20_000, 37);
      return JSON.stringify([f.started, f.replaced]);
    };
    assert.equal(run(), run(), 'two runs differ');
  });
});
