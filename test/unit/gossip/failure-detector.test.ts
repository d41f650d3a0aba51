import assert from 'node:assert/strict';
import type { Encoded } from '../../../src/core/protocol.ts';
import { SeededRng } from '../../../src/core/rng.ts';
import { FailureDetector } from '../../../src/gossip/failure-detector.ts';
import type { DirectMsg } from '../../../src/gossip/messages.ts';
import { Awareness } from '../../../src/gossip/suspicion.ts';

interface Sent {
  to: string;
  msg: DirectMsg;
  /** Sent as an answer to a peer that just reached us (no connection asked for). */
  reply?: true;
}

function setup(successors = ['s1', 's2'], helpers = ['h1', 'h2']) {
  const sent: Sent[] = [];
  const accused: string[] = [];
  const awareness = new Awareness(8);
  const fd = new FailureDetector(
    { probeIntervalMs: 1000, ackTimeoutMs: 500, indirectProbes: 2, indirectTimeoutMs: 500 },
    {
      rng: new SeededRng(1),
      awareness,
      hooks: {
        send: (to: string, p: Encoded) => sent.push({ to, msg: p.msg as DirectMsg }),
        reply: (to: string, p: Encoded) => sent.push({ to, msg: p.msg as DirectMsg, reply: true }),
        accuse: (t: string) => accused.push(t),
        successors: () => successors,
        helpers: (_t: string, k: number) => helpers.slice(0, k),
      },
    },
  );
  fd.start(0);
  /** Runs timers up to `t`, as a driver would. */
  const runTo = (t: number): void => {
    for (let guard = 0; guard < 1000 && fd.nextTimerAtMs() <= t; guard++) fd.onTimer(fd.nextTimerAtMs());
  };
  const take = (type: DirectMsg['type']): Sent[] => sent.splice(0).filter((s) => s.msg.type === type);
  return { fd, sent, accused, awareness, runTo, take };
}

const seqOf = (s: Sent): number => (s.msg as { seq: number }).seq;

describe('FailureDetector (ring SWIM with Lifeguard nacks)', () => {
  it('pings every successor once per round, and an ack settles the probe', () => {
    const { fd, runTo, take, accused, awareness } = setup();
    runTo(1000);
    const pings = take('ping');
    assert.deepEqual(pings.map((p) => p.to).sort(), ['s1', 's2'], 'one ping per successor in the first round');
    assert.ok(pings.every((p) => p.reply === undefined), 'a ping may need a connection: it is sent, not replied');
    for (const p of pings) fd.onAck(seqOf(p));
    let later = 0;
    for (let t = 1100; t <= 5000; t += 100) {
      runTo(t);
      for (const p of take('ping')) {
        later++;
        fd.onAck(seqOf(p));
      }
    }
    assert.deepEqual(accused, [], 'answered probes accuse nobody');
    assert.equal(awareness.score, 0);
    assert.ok(later >= 6, `probing goes on every second; saw ${later} more pings in 4 s`);
  });

  it('no ack → ping-req to helpers → no ack either → accusation', () => {
    const { fd, runTo, take, accused } = setup(['s1']);
    runTo(1000);
    const [ping] = take('ping');
    assert.ok(ping);
    runTo(fd.nextTimerAtMs());
    const reqs = take('ping-req');
    assert.deepEqual(reqs.map((r) => r.to), ['h1', 'h2'], 'helpers are asked after the ack timeout');
    assert.ok(reqs.every((r) => r.msg.type === 'ping-req' && r.msg.target === 's1' && r.msg.seq === seqOf(ping)));
    assert.deepEqual(accused, [], 'no accusation before the indirect timeout');
    runTo(2100);
    assert.deepEqual(accused, ['s1'], 'accused once both timeouts passed');
  });

  it('a relayed ack during the indirect phase saves the target', () => {
    const { fd, runTo, take, accused } = setup(['s1']);
    runTo(1000);
    const [ping] = take('ping');
    runTo(fd.nextTimerAtMs());
    take('ping-req');
    fd.onAck(seqOf(ping!)); // relayed by a helper with our seq
    runTo(1900);
    assert.deepEqual(accused, [], 'an indirect ack clears the suspicion-to-be');
  });

  it('awareness: a failed probe with any nack back is the target’s fault, not ours', () => {
    const a = setup(['s1']);
    a.runTo(1000);
    const [ping] = a.take('ping');
    a.runTo(a.fd.nextTimerAtMs());
    a.take('ping-req');
    a.fd.onNack(seqOf(ping!));
    a.fd.onNack(seqOf(ping!));
    a.runTo(1999);
    assert.deepEqual(a.accused, ['s1']);
    assert.equal(a.awareness.score, 0, 'both helpers nacked: our network works, no penalty');

    // One helper silent: in a correlated failure it is often dead too; the other one's nack
    // still shows that our messages go out and answers come back.
    const b = setup(['s1']);
    b.runTo(1000);
    const [ping2] = b.take('ping');
    b.runTo(b.fd.nextTimerAtMs());
    b.fd.onNack(seqOf(ping2!));
    b.runTo(1999);
    assert.deepEqual(b.accused, ['s1']);
    assert.equal(b.awareness.score, 0, 'one nack back: no penalty');

    const c = setup(['s1']);
    c.runTo(1000);
    c.take('ping');
    c.runTo(c.fd.nextTimerAtMs());
    c.runTo(1999);
    assert.equal(c.awareness.score, 1, 'no nack at all: we may be the slow one, awareness rises');
  });

  it('an unhealthy node stretches its own probe interval', () => {
    const { fd, runTo, take, awareness } = setup(['s1']);
    for (let i = 0; i < 3; i++) awareness.worse();
    runTo(1000);
    for (const p of take('ping')) fd.onAck(seqOf(p)); // one success: score 3 → 2
    runTo(3000);
    assert.equal(take('ping').length, 0, 'with awareness 3 the next round is 4 s later, not 1 s');
    runTo(5100);
    assert.equal(take('ping').length, 1);
  });

  it('as a helper: pings the target, relays its ack with the requester’s seq, or nacks in time', () => {
    const { fd, runTo, take } = setup([]);
    fd.onPingReq('req', 77, 'target', 0);
    const [ping] = take('ping');
    assert.equal(ping!.to, 'target');
    fd.onAck(seqOf(ping!));
    const [ack] = take('ack');
    assert.deepEqual(ack, { to: 'req', msg: { type: 'ack', seq: 77 }, reply: true }, 'the ack goes back to the requester with its seq, as a reply');

    fd.onPingReq('req', 78, 'target', 1000);
    take('ping');
    runTo(1000 + 399);
    assert.equal(take('nack').length, 0, 'not before 80% of the indirect timeout');
    runTo(1000 + 400);
    assert.deepEqual(take('nack'), [{ to: 'req', msg: { type: 'nack', seq: 78 }, reply: true }]);
  });

  it('relays are bounded', () => {
    const { fd, take } = setup([]);
    for (let i = 0; i < 100; i++) fd.onPingReq('req', i, 'target', 0);
    assert.equal(take('ping').length, 32, 'at most 32 relays in flight');
    assert.equal(fd.counters.relaysDropped, 68);
  });

  it('answers every ping with an ack of the same seq', () => {
    const { fd, take } = setup([]);
    fd.onPing('x', 123);
    assert.deepEqual(take('ack'), [{ to: 'x', msg: { type: 'ack', seq: 123 }, reply: true }], 'a reply: the pinger reached us, nothing to dial');
  });
});
