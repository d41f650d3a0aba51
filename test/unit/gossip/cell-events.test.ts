import assert from 'node:assert/strict';
import type { Encoded } from '../../../src/core/protocol.ts';
import { SeededRng } from '../../../src/core/rng.ts';
import { CellEvents } from '../../../src/gossip/cell-events.ts';
import { emptyReasonCounts } from '../../../src/gossip/errors.ts';
import type { FailureDetector } from '../../../src/gossip/failure-detector.ts';
import { Layout } from '../../../src/gossip/layout.ts';
import { Membership } from '../../../src/gossip/membership.ts';
import type { DirectMsg, EventsMsg, MemberEventWire } from '../../../src/gossip/messages.ts';
import { newGossipCounters } from '../../../src/gossip/metrics.ts';
import type { NodeContext } from '../../../src/gossip/node-part.ts';
import { resolveGossipOptions } from '../../../src/gossip/options.ts';
import { SummaryStore } from '../../../src/gossip/summary-store.ts';
import { Awareness } from '../../../src/gossip/suspicion.ts';
import { T_EVENTS, T_FALLBACK, newTimers } from '../../../src/gossip/timer-slots.ts';
import { CLUSTER, MEMBERSHIP_OPTS, record } from './fixtures.ts';

const opts = resolveGossipOptions({ cluster: CLUSTER, cellBits: 0 });

/**
 * One node's CellEvents over a real Membership of `peers`, with its effects recorded: the
 * events messages it publishes and the accusations it sends. The failure detector is a stub
 * (CellEvents only tells it to probe the next successor or forget a peer).
 */
function cellOf(self: string, peers: string[]) {
  const membership = new Membership(MEMBERSHIP_OPTS, record(self, { incarnation: 1 }), 0);
  for (const p of peers) membership.applyRecord(record(p, { incarnation: 1 }), 0);
  const timers = newTimers();
  const published: EventsMsg[] = [];
  const sent: { to: string; msg: DirectMsg }[] = [];
  const refuted: number[] = [];
  const ctx: NodeContext = {
    self,
    opts,
    rng: new SeededRng(1),
    layout: new Layout(CLUSTER, self, 0),
    membership,
    store: new SummaryStore(0),
    awareness: new Awareness(opts.maxAwareness),
    timers,
    stats: newGossipCounters(emptyReasonCounts(), emptyReasonCounts()),
    metrics: null,
    effects: {
      publish: () => assert.fail('CellEvents publishes through its own hook'),
      send: (to, payload) => sent.push({ to, msg: payload.msg as DirectMsg }),
      reply: () => assert.fail('CellEvents never replies'),
      dial: () => {},
      refuse: () => 'ignore',
      refute: (incarnation) => refuted.push(incarnation),
      incarnation: () => 1,
    },
  };
  const events = new CellEvents(ctx, { publish: (payload: Encoded) => published.push(payload.msg as EventsMsg) });
  events.attach({ probeNewSuccessors: () => {}, forget: () => {} } as unknown as FailureDetector);
  /** Runs whichever of CellEvents' two timers is due first; its time, or Infinity when none is set. */
  const runNextTimer = (): number => {
    const at = Math.min(timers[T_FALLBACK]!, timers[T_EVENTS]!);
    if (at === Infinity) return at;
    if (timers[T_FALLBACK]! <= at) events.runFallbacks(at);
    if (timers[T_EVENTS]! <= at) events.flush(at);
    return at;
  };
  return { events, membership, published, sent, refuted, runNextTimer };
}

const PEERS = ['self', 'p0', 'p1', 'p2', 'p3', 'p4', 'p5', 'p6', 'p7'];

/** The cell's members by rank (lowest hash first). */
const ORDER = cellOf('self', PEERS.slice(1))
  .membership.lowest(100)
  .map((m) => m.record.origin);

/** The cell as its member of rank `rank` runs it; `others`: everyone else, by rank. */
function seenFrom(rank: number) {
  const me = ORDER[rank]!;
  const others = ORDER.filter((p) => p !== me);
  return { me, others, ...cellOf(me, others) };
}

describe('CellEvents (accusations in, one batched events message out)', () => {
  it('the aggregator publishes one suspicion for many accusers, counting each accuser once', () => {
    const { events, membership, published, others, runNextTimer } = seenFrom(0);
    const [target, a, b] = others;
    events.aggregate(target!, 1, a!, 1000);
    events.aggregate(target!, 1, b!, 1050);
    events.aggregate(target!, 1, a!, 1100); // the same accuser again
    assert.equal(membership.statusOf(target!), 'suspect');
    const at = runNextTimer();
    assert.equal(at, 1000 + opts.eventBatchMs, 'a suspicion goes out within one batch');
    assert.equal(published.length, 1, 'one message for the three accusations');
    const [ev] = published[0]!.events;
    assert.deepEqual({ kind: ev!.kind, peer: ev!.peer, confirmations: ev!.confirmations }, { kind: 'suspect', peer: target, confirmations: 1 });
  });

  it('an accuser whose aggregator stays silent tells the next two members in turn, then publishes itself', () => {
    // An accuser ranked after the aggregator and its two stand-ins, accusing someone else.
    const { events, sent, published, runNextTimer } = seenFrom(4);
    const target = ORDER[5]!;
    events.accuse(target, 0);
    assert.deepEqual(events.probeTargets().includes(target), false, 'the accused member is skipped as a successor until announced');
    const times: number[] = [];
    while (published.length === 0) {
      const at = runNextTimer();
      assert.notEqual(at, Infinity, 'a fallback stays armed until the suspicion is out');
      times.push(at);
    }
    assert.deepEqual(
      sent.map((s) => [s.to, s.msg.type]),
      ORDER.slice(0, 3).map((p) => [p, 'accuse']),
      'the aggregator, then its two stand-ins',
    );
    assert.deepEqual(times.slice(0, 2), [opts.accuseFallbackMs, 2 * opts.accuseFallbackMs]);
    assert.equal(published[0]!.events[0]!.kind, 'suspect');
    assert.equal(published[0]!.events[0]!.peer, target);
  });

  it('a suspicion heard from someone else ends our own fallback', () => {
    const { events, sent, published, runNextTimer } = seenFrom(4);
    const target = ORDER[5]!;
    events.accuse(target, 0);
    const suspicion: MemberEventWire = { kind: 'suspect', peer: target, incarnation: 1, confirmations: 0 };
    events.heard(suspicion, 100);
    while (runNextTimer() !== Infinity);
    assert.equal(sent.length, 1, 'only the first accusation went out');
    assert.equal(published.length, 0, 'nothing of ours to publish');
  });

  it('the announcer of a suspicion announces the failure too, later; a refuted suspicion is dropped', () => {
    const { events, membership, published, others, runNextTimer } = seenFrom(0);
    const [dead, alive, accuser] = others;
    events.aggregate(dead!, 1, accuser!, 0);
    events.aggregate(alive!, 1, accuser!, 0);
    runNextTimer();
    assert.deepEqual(published[0]!.events.map((e) => e.peer).sort(), [alive, dead].sort());
    // `alive` refutes; `dead`'s suspicion runs out in our own view.
    membership.applyRecord(record(alive!, { incarnation: 2 }), 500);
    events.clearSuspicion(alive!);
    for (const peer of membership.tick(10_000) ?? []) events.onLocallyFailed(peer, 10_000);
    const at = runNextTimer();
    assert.ok(at >= 10_000 + 5 * opts.eventBatchMs, `failures wait several batches (at ${at})`);
    assert.deepEqual(
      published[1]!.events.map((e) => [e.kind, e.peer]),
      [['failed', dead]],
    );
  });
});
