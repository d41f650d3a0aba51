import assert from 'node:assert/strict';
import { ShoalError } from '../../src/core/errors.ts';
import type { PeerEvent, PeerIdStr, TopicMessage, Transport, Verdict } from '../../src/core/transport.ts';

/**
 * One behavioural contract for every `Transport`: the libp2p adapter and the simulator's
 * in-memory network both run it (js-libp2p's interface-compliance-tests, same idea).
 *
 * Rules for implementations, as asserted here:
 * - a publisher does not receive its own message;
 * - an accepted message reaches each subscriber's handler exactly once, with `origin` = the
 *   publisher and `from` = the neighbour that handed it over;
 * - `reject` and `ignore` both stop the message at that hop;
 * - `publish` never throws, even with no peers;
 * - request errors are ShoalErrors with codes NET_NO_HANDLER, NET_TIMEOUT, NET_ABORTED,
 *   NET_FRAME_TOO_LARGE (checked before sending; the handler never runs),
 *   NET_REMOTE_ERROR (`details.remoteCode` = the handler's ShoalError code),
 *   NET_NOT_STARTED (on a stopped transport);
 * - a request handler's AbortSignal fires when the requester gives up.
 *
 * The suite never sleeps: it waits only through `harness.waitFor`, which polls in real time
 * for libp2p and advances virtual time in the simulator.
 */

export interface TransportHarness {
  /** Started transports, not yet connected to each other. */
  readonly transports: readonly Transport[];
  /** Connects transports `a` and `b` and resolves once both see the connection. */
  connect(a: number, b: number): Promise<void>;
  /** Resolves once `cond()` is true; rejects with an error naming `what` after `timeoutMs` (real or virtual). */
  waitFor(cond: () => boolean, timeoutMs: number, what: string): Promise<void>;
  /**
   * Resolves once a message published on `topic` by any of `nodes` will be forwarded along the
   * links between them (a gossipsub mesh has formed). Implementations without meshes resolve at once.
   */
  settleTopic(topic: string, nodes: readonly number[]): Promise<void>;
  /** The implementation's request frame limit in bytes. */
  readonly maxFrameBytes: number;
  /** Stops every transport (some may already be stopped) and releases resources. */
  stop(): Promise<void>;
}

export type TransportHarnessFactory = (n: number) => Promise<TransportHarness>;

export interface TransportSuiteOptions {
  /** Budget for each waitFor: real ms for libp2p, virtual ms in the simulator. */
  waitTimeoutMs?: number;
}

interface Received {
  readonly msg: TopicMessage;
  readonly text: string;
}

/** Installs a handler that records every call and answers with `policy`. */
function record(t: Transport, policy: (text: string) => Verdict = () => 'accept'): Received[] {
  const got: Received[] = [];
  t.setTopicHandler((msg) => {
    const text = new TextDecoder().decode(msg.data);
    got.push({ msg, text });
    return policy(text);
  });
  return got;
}

const enc = (s: string): Uint8Array => new TextEncoder().encode(s);
const count = (got: readonly Received[], text: string): number => got.filter((r) => r.text === text).length;

async function expectCode(p: Promise<unknown>, code: string, what: string): Promise<ShoalError> {
  try {
    await p;
  } catch (err) {
    assert.ok(err instanceof ShoalError, `${what}: expected a ShoalError with code ${code}, got ${String(err)}`);
    assert.equal(err.code, code, `${what}: expected code ${code}, got ${err.code} (${err.message})`);
    return err;
  }
  assert.fail(`${what}: expected rejection with ${code}, but it resolved`);
}

export function transportComplianceSuite(name: string, factory: TransportHarnessFactory, suiteOpts: TransportSuiteOptions = {}): void {
  const waitMs = suiteOpts.waitTimeoutMs ?? 10_000;

  describe(`Transport compliance: ${name}`, function () {
    let h: TransportHarness | null = null;
    const harness = async (n: number): Promise<TransportHarness> => {
      h = await factory(n);
      assert.equal(h.transports.length, n, `harness must give ${n} transports`);
      return h;
    };
    afterEach(async () => {
      await h?.stop();
      h = null;
    });

    describe('publish/subscribe', () => {
      it('delivers a publish to every subscriber exactly once, never back to the publisher', async () => {
        const { transports: t, ...x } = await harness(4);
        const got = t.map((tr) => record(tr));
        for (let i = 0; i < 4; i++) for (let j = i + 1; j < 4; j++) await x.connect(i, j);
        const topic = '/compliance/cell/all';
        t.forEach((tr) => tr.subscribe(topic));
        await x.waitFor(() => t[0]!.topicPeers(topic).length === 3, waitMs, 'node 0 sees 3 subscribers');
        await x.settleTopic(topic, [0, 1, 2, 3]);

        t[0]!.publish(topic, enc('m1'));
        // The second message is a barrier: once it is everywhere, duplicates of m1 would have arrived too.
        t[0]!.publish(topic, enc('m2'));
        await x.waitFor(() => [1, 2, 3].every((i) => count(got[i]!, 'm2') === 1), waitMs, 'm2 at nodes 1..3');
        for (const i of [1, 2, 3]) {
          assert.equal(count(got[i]!, 'm1'), 1, `node ${i} must get m1 exactly once, got ${count(got[i]!, 'm1')}`);
          const r = got[i]!.find((g) => g.text === 'm1')!;
          assert.equal(r.msg.origin, t[0]!.self, `node ${i}: origin must be the publisher`);
          assert.equal(r.msg.topic, topic, `node ${i}: topic must be the published topic`);
        }
        assert.equal(got[0]!.length, 0, 'the publisher must not receive its own messages');
      });

      it('publish never throws: no peers, unknown topic, or before anyone subscribed', async () => {
        const { transports: t } = await harness(1);
        assert.doesNotThrow(() => t[0]!.publish('/compliance/nobody', enc('x')), 'publish with no peers must not throw');
        t[0]!.subscribe('/compliance/alone');
        assert.doesNotThrow(() => t[0]!.publish('/compliance/alone', enc('y')), 'publish on a topic only we subscribe must not throw');
        assert.deepEqual(t[0]!.topicPeers('/compliance/alone'), [], 'no peers subscribed');
      });

      it('stops delivery after unsubscribe', async () => {
        const { transports: t, ...x } = await harness(3);
        const got = t.map((tr) => record(tr));
        await x.connect(0, 1);
        await x.connect(0, 2);
        const topic = '/compliance/cell/unsub';
        const barrier = '/compliance/cell/barrier';
        t.forEach((tr) => {
          tr.subscribe(topic);
          tr.subscribe(barrier);
        });
        await x.waitFor(() => t[0]!.topicPeers(topic).length === 2 && t[0]!.topicPeers(barrier).length === 2, waitMs, 'node 0 sees both subscribers');
        await x.settleTopic(topic, [0, 1, 2]);
        await x.settleTopic(barrier, [0, 1, 2]);
        t[0]!.publish(topic, enc('before'));
        await x.waitFor(() => count(got[1]!, 'before') === 1 && count(got[2]!, 'before') === 1, waitMs, '"before" at nodes 1 and 2');

        t[2]!.unsubscribe(topic);
        await x.waitFor(() => !t[0]!.topicPeers(topic).includes(t[2]!.self), waitMs, 'node 0 learns node 2 left the topic');
        t[0]!.publish(topic, enc('after'));
        t[0]!.publish(barrier, enc('flush'));
        await x.waitFor(() => count(got[1]!, 'after') === 1 && count(got[2]!, 'flush') === 1, waitMs, '"after" at node 1 and the barrier at node 2');
        assert.equal(count(got[2]!, 'after'), 0, 'an unsubscribed node must not receive messages on that topic');
      });

      for (const verdict of ['reject', 'ignore'] as const) {
        it(`a relay's "${verdict}" stops forwarding (line a—b—c)`, async () => {
          const { transports: t, ...x } = await harness(3);
          const got = [record(t[0]!), record(t[1]!, (s) => (s.startsWith('bad') ? verdict : 'accept')), record(t[2]!)];
          await x.connect(0, 1);
          await x.connect(1, 2);
          const topic = `/compliance/cell/${verdict}`;
          t.forEach((tr) => tr.subscribe(topic));
          await x.waitFor(() => t[1]!.topicPeers(topic).length === 2, waitMs, 'relay sees both ends subscribed');
          await x.settleTopic(topic, [0, 1, 2]);

          t[0]!.publish(topic, enc('good-1'));
          await x.waitFor(() => count(got[2]!, 'good-1') === 1, waitMs, 'good-1 relayed to c');
          t[0]!.publish(topic, enc('bad-1'));
          await x.waitFor(() => count(got[1]!, 'bad-1') === 1, waitMs, 'relay validated bad-1');
          // The relay's own publish follows bad-1 on the b→c link: once c has it, bad-1 would have arrived.
          t[1]!.publish(topic, enc('barrier'));
          await x.waitFor(() => count(got[2]!, 'barrier') === 1, waitMs, 'barrier at c');
          assert.equal(count(got[2]!, 'bad-1'), 0, `a message the relay answered "${verdict}" must not reach c`);
          assert.equal(count(got[1]!, 'bad-1'), 1, 'the relay validates a message once');
        });
      }

      it('reports the publisher as origin and the neighbour as from when relayed', async () => {
        const { transports: t, ...x } = await harness(3);
        const got = t.map((tr) => record(tr));
        await x.connect(0, 1);
        await x.connect(1, 2);
        const topic = '/compliance/cell/origin';
        t.forEach((tr) => tr.subscribe(topic));
        await x.waitFor(() => t[1]!.topicPeers(topic).length === 2, waitMs, 'relay sees both ends subscribed');
        await x.settleTopic(topic, [0, 1, 2]);
        t[0]!.publish(topic, enc('hello'));
        await x.waitFor(() => count(got[2]!, 'hello') === 1, waitMs, 'hello at c');
        const atC = got[2]!.find((g) => g.text === 'hello')!.msg;
        assert.equal(atC.origin, t[0]!.self, 'origin must be the publisher a, not the relay');
        assert.equal(atC.from, t[1]!.self, 'from must be the relay b that handed the message to c');
        const atB = got[1]!.find((g) => g.text === 'hello')!.msg;
        assert.equal(atB.from, t[0]!.self, 'at b, from is the publisher itself');
      });
    });

    const echo = '/compliance/echo/1.0.0';

    describe('request/response', () => {

      it('round-trips a request and tells the handler who asked', async () => {
        const { transports: t, ...x } = await harness(2);
        let askedBy: PeerIdStr | null = null;
        t[1]!.handle(echo, (from, data) => {
          askedBy = from;
          return enc(`echo:${new TextDecoder().decode(data)}`);
        });
        await x.connect(0, 1);
        const res = await t[0]!.request(t[1]!.self, echo, enc('ping'), { timeoutMs: waitMs });
        assert.equal(new TextDecoder().decode(res), 'echo:ping', 'response must be the handler answer');
        assert.equal(askedBy, t[0]!.self, 'handler must see the requester as from');
        const empty = await t[0]!.request(t[1]!.self, echo, new Uint8Array(0), { timeoutMs: waitMs });
        assert.equal(new TextDecoder().decode(empty), 'echo:', 'an empty request is a valid frame');
      });

      it('fails with NET_NO_HANDLER when the peer does not serve the protocol', async () => {
        const { transports: t, ...x } = await harness(2);
        await x.connect(0, 1);
        await expectCode(t[0]!.request(t[1]!.self, '/compliance/nobody/1.0.0', enc('x'), { timeoutMs: waitMs }), 'NET_NO_HANDLER', 'unserved protocol');
      });

      it('fails with NET_TIMEOUT and aborts the handler when it is too slow', async () => {
        const { transports: t, ...x } = await harness(2);
        let handlerAborted = false;
        t[1]!.handle('/compliance/slow/1.0.0', (_from, _data, signal) => new Promise<Uint8Array>((_resolve, reject) => {
          signal.addEventListener('abort', () => {
            handlerAborted = true;
            reject(new Error('aborted'));
          });
        }));
        await x.connect(0, 1);
        await expectCode(t[0]!.request(t[1]!.self, '/compliance/slow/1.0.0', enc('x'), { timeoutMs: 300 }), 'NET_TIMEOUT', 'slow handler');
        await x.waitFor(() => handlerAborted, waitMs, "handler's signal aborted after the requester gave up");
      });

      it('fails with NET_ABORTED when the caller aborts', async () => {
        const { transports: t, ...x } = await harness(2);
        let started = false;
        t[1]!.handle('/compliance/hang/1.0.0', (_from, _data, signal) => new Promise<Uint8Array>((_resolve, reject) => {
          started = true;
          signal.addEventListener('abort', () => reject(new Error('aborted')));
        }));
        await x.connect(0, 1);
        const ctl = new AbortController();
        const p = t[0]!.request(t[1]!.self, '/compliance/hang/1.0.0', enc('x'), { timeoutMs: waitMs, signal: ctl.signal });
        await x.waitFor(() => started, waitMs, 'handler started');
        ctl.abort();
        await expectCode(p, 'NET_ABORTED', 'aborted request');
      });

      it('carries a handler failure back as NET_REMOTE_ERROR with the remote code', async () => {
        const { transports: t, ...x } = await harness(2);
        t[1]!.handle('/compliance/boom/1.0.0', () => {
          throw new ShoalError('TEST_BOOM', 'handler exploded');
        });
        await x.connect(0, 1);
        const err = await expectCode(t[0]!.request(t[1]!.self, '/compliance/boom/1.0.0', enc('x'), { timeoutMs: waitMs }), 'NET_REMOTE_ERROR', 'failing handler');
        assert.equal(err.details['remoteCode'], 'TEST_BOOM', 'details.remoteCode must carry the handler error code');
      });

      it('refuses a request frame above maxFrameBytes before the handler runs', async () => {
        const { transports: t, ...x } = await harness(2);
        let calls = 0;
        t[1]!.handle(echo, (_from, data) => {
          calls++;
          return data;
        });
        await x.connect(0, 1);
        const max = x.maxFrameBytes;
        const ok = await t[0]!.request(t[1]!.self, echo, new Uint8Array(max).fill(7), { timeoutMs: waitMs });
        assert.equal(ok.length, max, 'a frame of exactly maxFrameBytes is allowed');
        await expectCode(t[0]!.request(t[1]!.self, echo, new Uint8Array(max + 1), { timeoutMs: waitMs }), 'NET_FRAME_TOO_LARGE', 'oversized request');
        assert.equal(calls, 1, 'the handler must not run for an oversized frame');
      });

      it('answers NET_FRAME_TOO_LARGE when a handler returns more than maxFrameBytes', async () => {
        const { transports: t, ...x } = await harness(2);
        t[1]!.handle('/compliance/big/1.0.0', () => new Uint8Array(x.maxFrameBytes + 1));
        await x.connect(0, 1);
        await expectCode(t[0]!.request(t[1]!.self, '/compliance/big/1.0.0', enc('x'), { timeoutMs: waitMs }), 'NET_FRAME_TOO_LARGE', 'oversized response');
      });
    });

    describe('one-way messages (send)', () => {
      it('delivers each message to the handler once, in order, with the sender as from, and drops the answer', async () => {
        const { transports: t, ...x } = await harness(2);
        const got: Array<{ from: PeerIdStr; text: string }> = [];
        t[1]!.handle(echo, (from, data) => {
          got.push({ from, text: new TextDecoder().decode(data) });
          return enc('an answer nobody reads');
        });
        await x.connect(0, 1);
        for (let i = 0; i < 5; i++) await t[0]!.send(t[1]!.self, echo, enc(`m${i}`), { timeoutMs: waitMs });
        await x.waitFor(() => got.length === 5, waitMs, 'five one-way messages handled');
        assert.deepEqual(got.map((g) => g.text), ['m0', 'm1', 'm2', 'm3', 'm4'], 'each once, in the order sent');
        assert.ok(got.every((g) => g.from === t[0]!.self), 'the handler sees the sender as from');
        const res = await t[0]!.request(t[1]!.self, echo, enc('after'), { timeoutMs: waitMs });
        assert.equal(new TextDecoder().decode(res), 'an answer nobody reads', 'requests still get answers on the same protocol');
      });

      it('refuses what cannot leave: above maxFrameBytes, an unserved protocol, a handler failure stays remote', async () => {
        const { transports: t, ...x } = await harness(2);
        let calls = 0;
        t[1]!.handle('/compliance/boom/1.0.0', () => {
          calls++;
          throw new ShoalError('TEST_BOOM', 'handler exploded');
        });
        await x.connect(0, 1);
        await expectCode(t[0]!.send(t[1]!.self, '/compliance/boom/1.0.0', new Uint8Array(x.maxFrameBytes + 1), { timeoutMs: waitMs }), 'NET_FRAME_TOO_LARGE', 'oversized message');
        await expectCode(t[0]!.send(t[1]!.self, '/compliance/nobody/1.0.0', enc('x'), { timeoutMs: waitMs }), 'NET_NO_HANDLER', 'unserved protocol');
        await t[0]!.send(t[1]!.self, '/compliance/boom/1.0.0', enc('x'), { timeoutMs: waitMs });
        await x.waitFor(() => calls === 1, waitMs, 'the failing handler ran once');
        assert.equal(calls, 1, 'the oversized message never reached the handler');
      });
    });

    describe('peer events and lifecycle', () => {
      it('emits connect and disconnect events on both sides', async () => {
        const { transports: t, ...x } = await harness(2);
        const ev: PeerEvent[][] = [[], []];
        t[0]!.onPeerEvent((e) => ev[0]!.push(e));
        t[1]!.onPeerEvent((e) => ev[1]!.push(e));
        await x.connect(0, 1);
        await x.waitFor(() => ev[0]!.some((e) => e.type === 'connect') && ev[1]!.some((e) => e.type === 'connect'), waitMs, 'connect events on both sides');
        assert.deepEqual(ev[0]!.filter((e) => e.type === 'connect').map((e) => e.peer), [t[1]!.self], 'node 0 sees exactly one connect, from node 1');
        assert.deepEqual(ev[1]!.filter((e) => e.type === 'connect').map((e) => e.peer), [t[0]!.self], 'node 1 sees exactly one connect, from node 0');
        assert.deepEqual(t[0]!.connectedPeers(), [t[1]!.self], 'connectedPeers lists the peer');

        await t[0]!.hangUp(t[1]!.self);
        await x.waitFor(() => ev[0]!.some((e) => e.type === 'disconnect') && ev[1]!.some((e) => e.type === 'disconnect'), waitMs, 'disconnect events on both sides');
        assert.deepEqual(ev[1]!.filter((e) => e.type === 'disconnect').map((e) => e.peer), [t[0]!.self], 'node 1 sees node 0 disconnect');
        await x.waitFor(() => t[0]!.connectedPeers().length === 0 && t[1]!.connectedPeers().length === 0, waitMs, 'no connections left');
      });

      it('stop() is clean: peers see a disconnect, later calls fail precisely, stop twice is a no-op', async () => {
        const { transports: t, ...x } = await harness(3);
        const ev: PeerEvent[] = [];
        t[0]!.onPeerEvent((e) => ev.push(e));
        t[1]!.handle(echo, (_f, d) => d);
        await x.connect(0, 1);
        await x.connect(0, 2);
        await t[1]!.stop();
        await x.waitFor(() => ev.some((e) => e.type === 'disconnect' && e.peer === t[1]!.self), waitMs, 'node 0 sees node 1 leave');
        await x.waitFor(() => !t[0]!.connectedPeers().includes(t[1]!.self), waitMs, 'node 1 gone from connectedPeers');
        assert.deepEqual(t[0]!.connectedPeers(), [t[2]!.self], 'the other peer stays connected');
        await t[1]!.stop();
        assert.doesNotThrow(() => t[1]!.publish('/compliance/after-stop', enc('x')), 'publish after stop must not throw');
        await expectCode(t[1]!.request(t[0]!.self, echo, enc('x'), { timeoutMs: waitMs }), 'NET_NOT_STARTED', 'request from a stopped transport');
        await expectCode(t[0]!.request(t[1]!.self, echo, enc('x'), { timeoutMs: waitMs }), 'NET_UNREACHABLE', 'request to a stopped peer');
      });
    });
  });
}
