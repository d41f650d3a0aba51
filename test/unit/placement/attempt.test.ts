import assert from 'node:assert/strict';
import { SeededRng } from '../../../src/core/rng.ts';
import type { JobSpec } from '../../../src/core/job.ts';
import type { MemberView } from '../../../src/gossip/records.ts';
import {
  HostSelector,
  PlacementAttempt,
  ReservationOverlay,
  RefusalTally,
  StaticPlacementView,
  chooseCell,
  demandOf,
  describeRefusal,
  placementOptions,
  placementSpecDigest,
  type AdmitResult,
  type AttemptOutcome,
  type AttemptStep,
  type PlacementOptions,
} from '../../../src/placement/index.ts';
import { member, record, spec, summarize } from './fixtures.ts';

const FREE0 = { vcpus: 0, memoryMiB: 0, diskGiB: 0 };
const accepted = (jobId: string, epoch = 1): AdmitResult => ({ type: 'accepted', jobId, epoch, driver: 'qemu', duplicate: false, free: FREE0 });
const rejected = (reason: 'short-memory' | 'anti-affinity' = 'short-memory'): AdmitResult => ({
  type: 'rejected',
  code: reason === 'short-memory' ? 'PLACEMENT_INSUFFICIENT_RESOURCES' : 'PLACEMENT_ANTI_AFFINITY',
  reason,
  message: 'no',
  free: FREE0,
});

function attemptFor(
  view: StaticPlacementView,
  s: JobSpec,
  opts: Partial<PlacementOptions> = {},
  scope: 'cluster' | 'own-cell' = 'cluster',
  overlay: ReservationOverlay | null = null,
  seed = 3,
) {
  const o = placementOptions(opts);
  return new PlacementAttempt(
    o,
    { view, rng: new SeededRng(seed), selector: new HostSelector(o), overlay },
    { jobId: 'job-1', epoch: 1, spec: s, specDigest: placementSpecDigest(s), demand: demandOf(s) },
    { scope, now: 0 },
  );
}

function askOf(step: AttemptStep) {
  assert.equal(step.type, 'ask', `expected an ask, got ${JSON.stringify(step)}`);
  return (step as Extract<AttemptStep, { type: 'ask' }>).ask;
}

function doneOf(step: AttemptStep): AttemptOutcome {
  assert.equal(step.type, 'done', `expected done, got ${JSON.stringify(step)}`);
  return (step as Extract<AttemptStep, { type: 'done' }>).outcome;
}

function cell(prefix: string, n: number, init: Parameters<typeof record>[1] = {}): MemberView[] {
  return Array.from({ length: n }, (_, i) => member(record(`${prefix}${i}`, init)));
}

describe('placement routing and attempts', () => {
  it('uses the own cell when the job fits there', () => {
    const view = new StaticPlacementView({ self: 'a0', cellBits: 1, ownCell: 0, members: cell('a', 4), summaries: [summarize(1, 1, cell('b', 4), 0)] });
    const a = attemptFor(view, spec());
    const ask = askOf(a.next(0));
    assert.equal(ask.kind, 'admit', 'a job that fits the own cell is admitted directly');
    assert.ok(ask.to.startsWith('a'), `the host is in the own cell, got ${ask.to}`);
    assert.ok(a.onAnswer(ask.seq, { type: 'admit', result: accepted('job-1') }, 5), 'the answer to the outstanding ask applies');
    const out = doneOf(a.next(5));
    assert.ok(out.type === 'placed' && out.host === ask.to && out.asks === 1, 'placed on the asked host with one ask');
  });

  it('routes through a contact of a cell whose summary fits when the own cell is full', () => {
    const full = { vcpus: 0, memoryMiB: 0, diskGiB: 0 };
    const view = new StaticPlacementView({
      self: 'a0',
      cellBits: 2,
      ownCell: 0,
      members: cell('a', 4, { free: full }),
      summaries: [
        summarize(1, 2, cell('b', 4, { free: full }), 0),
        summarize(2, 2, cell('c', 4, { zone: 'x' }), 0),
        summarize(3, 2, cell('d', 4), 0),
      ],
    });
    const seen = new Set<number>();
    for (let seed = 0; seed < 40; seed++) {
      const a = attemptFor(view, spec({ idempotencyKey: `k${seed}` }), {}, 'cluster', null, seed);
      const ask = askOf(a.next(0));
      assert.equal(ask.kind, 'route', 'a job that does not fit the own cell is routed');
      assert.ok(ask.kind === 'route' && ask.cell !== 1, 'the full cell 1 is never routed to');
      if (ask.kind === 'route') {
        const prefix = ask.cell === 2 ? 'c' : 'd';
        assert.ok(ask.to.startsWith(prefix), `the contact ${ask.to} belongs to cell ${ask.cell}`);
        seen.add(ask.cell);
      }
    }
    assert.deepEqual([...seen].sort(), [2, 3], 'both cells with room get routed jobs');
    const zoned = askOf(attemptFor(view, spec({ constraints: { zone: 'x', hostLabels: {} } })).next(0));
    assert.ok(zoned.kind === 'route' && zoned.cell === 2, 'a zone-x job goes to the cell with zone x');
    const zonedA = askOf(attemptFor(view, spec({ constraints: { zone: 'a', hostLabels: {} } })).next(0));
    assert.ok(zonedA.kind === 'route' && zonedA.cell === 3, 'a zone-a job goes to the cell with room in zone a');
  });

  it('weights cells by the hosts that surely fit', () => {
    const full = { vcpus: 0, memoryMiB: 0, diskGiB: 0 };
    const view = new StaticPlacementView({
      self: 'a0',
      cellBits: 2,
      ownCell: 0,
      members: cell('a', 2, { free: full }),
      summaries: [summarize(1, 2, cell('b', 1), 0), summarize(2, 2, cell('c', 9), 0)],
    });
    const d = demandOf(spec());
    const rng = new SeededRng(9);
    let c = 0;
    for (let i = 0; i < 1000; i++) {
      const choice = chooseCell(d, view, { rng, now: 0, excludeCells: null, avoidPeers: null, tally: null, maxSummaryAgeMs: 30_000, weakCellWeight: 0.25 });
      if (choice?.summary.cell === 2) c++;
    }
    assert.ok(c > 840 && c < 960, `a cell with 9 fitting hosts should win ~90% against one with 1, won ${c}/1000`);
    const stale = chooseCell(d, view, { rng, now: 100_000, excludeCells: null, avoidPeers: null, tally: new RefusalTally(), maxSummaryAgeMs: 30_000, weakCellWeight: 0.25 });
    assert.equal(stale, null, 'summaries older than maxSummaryAgeMs are not routed to');
  });

  it('stays within the ask budget, contacts’ asks included, when every host rejects', () => {
    const view = new StaticPlacementView({
      self: 'a0',
      cellBits: 2,
      ownCell: 0,
      members: cell('a', 6),
      summaries: [summarize(1, 2, cell('b', 6), 0), summarize(2, 2, cell('c', 6), 0), summarize(3, 2, cell('d', 6), 0)],
    });
    for (const maxAsks of [1, 2, 3, 4, 5, 7]) {
      const a = attemptFor(view, spec(), { maxAsks, maxOwnCellAsks: 2, contactMaxAsks: 2 });
      let now = 0;
      let sent = 0;
      for (let step = a.next(now); step.type !== 'done'; step = a.next(now)) {
        const ask = askOf(step);
        sent++;
        now += 1;
        if (ask.kind === 'admit') a.onAnswer(ask.seq, { type: 'admit', result: rejected() }, now);
        else {
          // The contact spends its whole budget, every host rejecting.
          const n = ask.maxAsks;
          a.onAnswer(
            ask.seq,
            { type: 'route', outcome: { type: 'refused', code: 'PLACEMENT_NO_CAPACITY', message: 'full', reasons: {}, checked: 6, rejections: { 'short-memory': n }, rejected: n, asks: n } },
            now,
          );
        }
        assert.ok(sent <= maxAsks, `more than maxAsks (${maxAsks}) asks were sent`);
      }
      const out = a.outcome!;
      assert.equal(out.type, 'refused', 'all rejected: refused');
      assert.equal(out.asks, maxAsks, `every ask of the budget is used, and no more (maxAsks ${maxAsks})`);
      assert.ok(out.type === 'refused' && out.rejected === maxAsks, 'each ask was one rejection');
      assert.match(out.type === 'refused' ? out.message : '', new RegExp(`retry budget of ${maxAsks} asks? spent`), 'the message says the budget ran out');
    }
  });

  it('after a timeout asks another host at a higher epoch, and reports uncertainty if nothing else fits', () => {
    const view = new StaticPlacementView({ self: 'a0', members: cell('a', 2) });
    const a = attemptFor(view, spec(), { maxOwnCellAsks: 5, admitTimeoutMs: 1000 });
    const first = askOf(a.next(0));
    assert.equal(first.epoch, 1);
    assert.deepEqual(a.next(500), { type: 'wait', untilMs: 1000 }, 'before the admit timeout the attempt waits');
    const second = askOf(a.next(1000));
    assert.notEqual(second.to, first.to, 'the silent host is not asked again');
    assert.equal(second.epoch, 2, 'an ambiguous timeout bumps the epoch');
    assert.equal(a.onAnswer(first.seq, { type: 'admit', result: accepted('job-1') }, 1001), false, 'a late answer to the timed-out ask is not applied');
    a.onAnswer(second.seq, { type: 'admit', result: rejected() }, 1002);
    const out = doneOf(a.next(1002));
    assert.ok(out.type === 'failed' && out.code === 'PLACEMENT_TIMEOUT', `a timeout and no other taker is uncertain, not "no capacity": ${JSON.stringify(out)}`);
    assert.match(out.message, /same idempotency key/, 'the message tells the caller how to resolve it');
  });

  it('tries another contact of the same cell when one is unreachable', () => {
    const full = { vcpus: 0, memoryMiB: 0, diskGiB: 0 };
    const view = new StaticPlacementView({ self: 'a0', cellBits: 1, ownCell: 0, members: cell('a', 2, { free: full }), summaries: [summarize(1, 1, cell('b', 5), 0)] });
    const a = attemptFor(view, spec());
    const first = askOf(a.next(0));
    a.onAnswer(first.seq, { type: 'unreachable' }, 1);
    const second = askOf(a.next(1));
    assert.ok(second.kind === 'route' && second.cell === 1 && second.to !== first.to, 'same cell, another contact');
  });

  it('stops at a conflict instead of asking other hosts', () => {
    const view = new StaticPlacementView({ self: 'a0', members: cell('a', 5) });
    const a = attemptFor(view, spec());
    const ask = askOf(a.next(0));
    a.onAnswer(ask.seq, { type: 'admit', result: { type: 'rejected', code: 'PLACEMENT_IDEMPOTENCY_CONFLICT', reason: null, message: 'bound elsewhere', free: FREE0 } }, 1);
    const out = doneOf(a.next(1));
    assert.ok(out.type === 'failed' && out.code === 'PLACEMENT_IDEMPOTENCY_CONFLICT' && out.asks === 1, 'a conflict ends the attempt at once');
  });

  it('as a contact, never leaves its own cell', () => {
    const full = { vcpus: 0, memoryMiB: 0, diskGiB: 0 };
    const view = new StaticPlacementView({ self: 'a0', cellBits: 1, ownCell: 0, members: cell('a', 3, { free: full }), summaries: [summarize(1, 1, cell('b', 5), 0)] });
    const out = doneOf(attemptFor(view, spec(), {}, 'own-cell').next(0));
    assert.ok(out.type === 'refused' && out.checked === 3, `a contact with a full cell refuses with its own count, got ${JSON.stringify(out)}`);
  });

  it('gives up at the attempt deadline', () => {
    const view = new StaticPlacementView({ self: 'a0', members: cell('a', 5) });
    const a = attemptFor(view, spec(), { attemptDeadlineMs: 1500, admitTimeoutMs: 1000 });
    askOf(a.next(0));
    askOf(a.next(1000));
    const out = doneOf(a.next(1500));
    assert.ok(out.type === 'failed' && out.code === 'PLACEMENT_TIMEOUT', 'past the deadline the attempt fails with PLACEMENT_TIMEOUT');
  });

  it('lets an admission answer override a stale view through the overlay', () => {
    const view = new StaticPlacementView({ self: 'a0', members: [member(record('a0')), member(record('a1', { free: { vcpus: 1, memoryMiB: 1024, diskGiB: 0 } }))] });
    const overlay = new ReservationOverlay({ overlayTtlMs: 3000, maxOverlayEntries: 16 });
    const s = spec({ policy: 'binpack' });
    const first = attemptFor(view, s, { choices: 1, topK: 1 }, 'cluster', overlay);
    const ask = askOf(first.next(0));
    assert.equal(ask.to, 'a1', 'binpack picks the nearly full host');
    first.onAnswer(ask.seq, { type: 'admit', result: accepted('job-1') }, 1);
    const second = attemptFor(view, s, { choices: 1, topK: 1 }, 'cluster', overlay);
    assert.equal(askOf(second.next(2)).to, 'a0', 'the host that reported 0 free is not picked again before gossip catches up');
    const later = attemptFor(view, s, { choices: 1, topK: 1 }, 'cluster', overlay);
    assert.equal(askOf(later.next(3002)).to, 'a1', 'after the overlay TTL the gossip view rules again');
  });
});

describe('placement refusal messages', () => {
  it('counts every host checked and why it was refused', () => {
    const members = [
      ...cell('m', 30, { zone: 'b', free: { vcpus: 32, memoryMiB: 32768, diskGiB: 100 } }),
      ...cell('d', 5, { zone: 'b', draining: true }),
      ...cell('x', 2, { zone: 'b' }).map((m) => member(m.record, 'failed')),
    ];
    const view = new StaticPlacementView({ self: 'm0', members });
    const out = doneOf(attemptFor(view, spec({ resources: { vcpus: 4, memoryMiB: 65536, diskGiB: 0 }, constraints: { zone: 'b', hostLabels: {} } })).next(0));
    assert.ok(out.type === 'refused', 'nothing fits: refused');
    assert.equal(out.message, 'no host with 4 vCPUs, 64 GiB memory free in zone b (37 hosts checked: 30 short of memory, 5 draining, 2 not alive)');
    assert.deepEqual(out.reasons, { 'short-memory': 30, draining: 5, 'not-alive': 2 }, 'reasons are counted as data too');
    assert.equal(out.checked, 37);
  });

  it('adds cells seen through summaries, rejections and notes', () => {
    const d = demandOf(spec({ resources: { vcpus: 2, memoryMiB: 2048, diskGiB: 0 }, constraints: { hostLabels: { energy: 'hydro' } }, antiAffinityGroup: 'web' }));
    const t = new RefusalTally();
    t.add('missing-label', 1200);
    t.add('anti-affinity', 34);
    const r = new RefusalTally();
    r.add('anti-affinity', 2);
    t.staleCells = 1;
    assert.equal(
      describeRefusal(d, t, r, 'retry budget of 5 asks spent'),
      'no host with 2 vCPUs, 2 GiB memory free with label energy=hydro outside anti-affinity group default/web (1,234 hosts checked: 1,200 without the required labels, 34 already running the anti-affinity group); 2 refused on admission (2 already running the anti-affinity group); 1 cell skipped with stale summaries; retry budget of 5 asks spent',
    );
  });
});
