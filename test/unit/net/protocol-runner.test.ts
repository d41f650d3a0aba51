import assert from 'node:assert/strict';
import { ShoalError } from '../../../src/core/errors.ts';
import type { TopicMessage } from '../../../src/core/transport.ts';
import { ProtocolRunner, type ProtocolRunnerMetrics, type ProtocolRunnerOptions } from '../../../src/net/protocol-runner.ts';
import { FakeTransport, ManualClock, ScriptedNode, encoded, textCodec } from './fakes.ts';

class RecordingRunnerMetrics implements ProtocolRunnerMetrics {
  readonly events: string[] = [];
  decodeFailed(kind: string, action: string, code: string): void {
    this.events.push(`decode:${kind}:${action}:${code}`);
  }
  handlerThrew(handler: string): void {
    this.events.push(`threw:${handler}`);
  }
  sendDropped(reason: string): void {
    this.events.push(`send-dropped:${reason}`);
  }
  sendFailed(code: string): void {
    this.events.push(`send-failed:${code}`);
  }
  dialDropped(reason: string): void {
    this.events.push(`dial-dropped:${reason}`);
  }
  dialFailed(code: string): void {
    this.events.push(`dial-failed:${code}`);
  }
  inFlightSends(): void {}
  queuedDials(): void {}
}

const msg = (text: string, topic = '/shoal/cell/1'): TopicMessage => ({ topic, from: 'relay', origin: 'origin', data: new TextEncoder().encode(text) });
/** Lets promise callbacks (request/dial settlement) run. */
const flush = async (): Promise<void> => {
  for (let i = 0; i < 5; i++) await Promise.resolve();
};

function setup(opts: Partial<ProtocolRunnerOptions> = {}) {
  const clock = new ManualClock(1_000);
  const transport = new FakeTransport('me');
  const metrics = new RecordingRunnerMetrics();
  let node!: ScriptedNode;
  const runner = new ProtocolRunner(opts, {
    node: (outbox) => (node = new ScriptedNode(outbox)),
    transport,
    clock,
    codec: textCodec,
    metrics,
  });
  return { clock, transport, metrics, runner, node };
}

describe('ProtocolRunner (pure logic, fake transport, virtual clock)', () => {
  it('arms one timer at nextTimerAtMs after start and after every handler call', () => {
    const { clock, transport, runner, node } = setup();
    node.nextAt = 1_500;
    runner.start();
    assert.deepEqual(node.calls, ['start@1000'], 'start is called with now');
    assert.equal(runner.armedAtMs, 1_500, 'timer armed at nextTimerAtMs');
    assert.equal(clock.pending, 1, 'exactly one timer');

    // A handler moves the deadline earlier: the timer must follow.
    node.onTopic = () => {
      node.nextAt = 1_200;
    };
    clock.advance(100);
    transport.deliver(msg('hello'));
    assert.equal(runner.armedAtMs, 1_200, 're-armed after the topic handler');
    assert.equal(clock.pending, 1, 'the old timer was cancelled');

    node.onTick = (now) => {
      node.nextAt = now + 300;
    };
    clock.advance(100);
    assert.ok(node.calls.includes('timer@1200'), `onTimer runs at the armed time: ${node.calls.join(',')}`);
    assert.equal(runner.armedAtMs, 1_500, 're-armed after onTimer');
    clock.advance(1_000);
    assert.deepEqual(node.calls.filter((c) => c.startsWith('timer')), ['timer@1200', 'timer@1500', 'timer@1800', 'timer@2100'], 'periodic timer');

    node.onTick = () => {
      node.nextAt = Infinity;
    };
    clock.advance(300);
    assert.equal(runner.armedAtMs, Infinity, 'idle node: no timer');
    assert.equal(clock.pending, 0, 'no timer pending when idle');
  });

  it('passes decoded payloads to the node and returns its verdict', () => {
    const { transport, runner, node } = setup();
    runner.start();
    let seen: unknown = null;
    node.onTopic = (topic, from, origin, payload) => {
      seen = { topic, from, origin, msg: payload.msg };
    };
    node.verdict = 'reject';
    assert.equal(transport.deliver(msg('hi')), 'reject', "the node's verdict goes back to gossipsub");
    assert.deepEqual(seen, { topic: '/shoal/cell/1', from: 'relay', origin: 'origin', msg: 'hi' }, 'node sees topic, from, origin and the decoded message');
  });

  it('maps decode failures to their action without calling the node, and counts them by kind and code', () => {
    const { transport, runner, node, metrics } = setup();
    runner.start();
    assert.equal(transport.deliver(msg('bad:reject:SCHEMA')), 'reject', 'reject action');
    assert.equal(transport.deliver(msg('bad:ignore:STALE', '/shoal/global')), 'ignore', 'ignore action');
    assert.deepEqual(node.calls.filter((c) => c.startsWith('topic')), [], 'the node never sees undecodable bytes');
    assert.deepEqual(metrics.events, ['decode:cell:reject:SCHEMA', 'decode:global:ignore:STALE'], 'counted by topic kind, action and code');
  });

  it('treats a decoder that throws a plain error as reject', () => {
    const { transport, node, clock, metrics } = setup();
    const runner = new ProtocolRunner({}, {
      node,
      transport,
      clock,
      codec: { decodeTopic: () => { throw new RangeError('boom'); }, decodeDirect: () => { throw new RangeError('boom'); } },
      metrics,
    });
    runner.start();
    assert.equal(transport.deliver(msg('x')), 'reject', 'unknown decode errors reject');
    assert.deepEqual(metrics.events, ['decode:cell:reject:DECODE_ERROR'], 'counted as DECODE_ERROR');
  });

  it('survives a node that throws: ignore, count, keep the timer', () => {
    const { transport, runner, node, metrics, clock } = setup();
    node.nextAt = 2_000;
    runner.start();
    node.throwOn = 'topic';
    assert.equal(transport.deliver(msg('x')), 'ignore', 'a node bug must not penalise the sender');
    node.throwOn = 'timer';
    clock.advance(1_000); // fires at 2000; the throwing node leaves its deadline at 2000
    assert.deepEqual(metrics.events, ['threw:topic', 'threw:timer', 'threw:timer_not_advanced'], 'both failures counted');
    assert.equal(runner.running, true, 'runner keeps running');
    // A deadline stuck in the past must not spin: it is retried every minTimerDelayMs (5 ms).
    clock.advance(50);
    const fired = node.calls.filter((c) => c.startsWith('timer')).length;
    assert.equal(fired, 11, `a stuck deadline retries every 5 ms (fired ${fired} times in 50 ms after the first)`);
  });

  it('hands direct messages to onDirect, answers an empty frame, and refuses undecodable ones', async () => {
    const { transport, runner, node, metrics } = setup();
    runner.start();
    const handler = transport.handlers.get('/shoal/direct/2.0.0');
    assert.ok(handler !== undefined, 'the direct protocol is registered');
    const ctl = new AbortController();
    const answer = await handler('peer-x', new TextEncoder().encode('probe'), ctl.signal);
    assert.equal(answer.length, 0, 'one-way protocol answers an empty frame');
    assert.deepEqual(node.calls.filter((c) => c.startsWith('direct')), ['direct:peer-x@1000'], 'onDirect called with the sender');
    assert.throws(() => handler('peer-x', new TextEncoder().encode('bad:reject:VERSION'), ctl.signal), (e: unknown) => e instanceof ShoalError && e.code === 'NET_DIRECT_DECODE_FAILED', 'bad direct bytes fail precisely');
    assert.ok(metrics.events.includes('decode:direct:reject:VERSION'), 'counted under kind "direct"');
  });

  it('turns Outbox effects into transport calls', () => {
    const { transport, runner, node } = setup();
    node.onTopic = () => {
      node.outbox.subscribe('/shoal/cell/2');
      node.outbox.publish('/shoal/cell/2', encoded('news'));
      node.outbox.send('peer-y', encoded('ack'));
      node.outbox.unsubscribe('/shoal/cell/1');
    };
    transport.subscribe('/shoal/cell/1');
    runner.start();
    transport.deliver(msg('go'));
    assert.deepEqual([...transport.subscriptions], ['/shoal/cell/2'], 'subscribe and unsubscribe applied');
    assert.deepEqual(transport.published.map((p) => [p.topic, new TextDecoder().decode(p.data)]), [['/shoal/cell/2', 'news']], 'publish sends the encoded bytes');
    assert.equal(transport.sends.length, 1, 'send becomes one one-way message');
    assert.equal(transport.requests.length, 0, 'not a request: nobody waits for an answer');
    assert.equal(transport.sends[0]!.protocol, '/shoal/direct/2.0.0', 'on the direct protocol');
    assert.equal(transport.sends[0]!.peer, 'peer-y', 'to the right peer');
  });

  it('bounds in-flight sends and counts failures by code', async () => {
    const { transport, runner, node, metrics } = setup({ maxInFlightSends: 2 });
    runner.start();
    for (let i = 0; i < 4; i++) node.outbox.send(`p${i}`, encoded('x'));
    assert.equal(transport.sends.length, 2, 'only maxInFlightSends sends start');
    assert.deepEqual(metrics.events, ['send-dropped:queue_full', 'send-dropped:queue_full'], 'the rest are dropped and counted');
    transport.sends[0]!.d.reject(new ShoalError('NET_TIMEOUT', 'slow'));
    transport.sends[1]!.d.resolve();
    await flush();
    assert.equal(runner.inFlightSends, 0, 'settled sends free their slots');
    assert.ok(metrics.events.includes('send-failed:NET_TIMEOUT'), 'failure counted by code');
    node.outbox.send('p9', encoded('x'));
    assert.equal(transport.sends.length, 3, 'a freed slot is usable again');
  });

  it('dials with bounded concurrency and a bounded, de-duplicated queue', async () => {
    const { transport, runner, node, metrics } = setup({ maxConcurrentDials: 2, maxQueuedDials: 2 });
    transport.connected = ['already'];
    runner.start();
    node.outbox.connect('me', ['/ip4/127.0.0.1/tcp/1']);
    node.outbox.connect('already', ['/ip4/127.0.0.1/tcp/2']);
    assert.equal(transport.dials.length, 0, 'never dial self or a connected peer');

    for (const p of ['a', 'b', 'c', 'd', 'e']) node.outbox.connect(p, [`/addr/${p}`]);
    node.outbox.connect('a', ['/addr/a2']); // in flight: ignored
    node.outbox.connect('c', ['/addr/c2']); // queued: addresses refreshed
    assert.deepEqual(transport.dials.map((d) => d.peer), ['a', 'b'], 'two dials at once');
    assert.equal(runner.queuedDials, 2, 'c and d wait; e is dropped');
    assert.deepEqual(metrics.events, ['dial-dropped:queue_full'], 'the overflow is counted');

    transport.dials[0]!.d.reject(new ShoalError('NET_UNREACHABLE', 'nope'));
    await flush();
    assert.deepEqual(transport.dials.map((d) => d.peer), ['a', 'b', 'c'], 'a finished, c starts');
    assert.deepEqual(transport.dials[2]!.addrs, ['/addr/c2'], 'with its newest addresses');
    assert.ok(metrics.events.includes('dial-failed:NET_UNREACHABLE'), 'dial failure counted');

    transport.emitPeer({ type: 'connect', peer: 'd' }); // d connected by someone else meanwhile
    transport.dials[1]!.d.resolve();
    await flush();
    assert.deepEqual(transport.dials.map((d) => d.peer), ['a', 'b', 'c'], 'a queued peer that connected meanwhile is skipped');
    assert.equal(runner.queuedDials, 0, 'queue drained');
  });

  it('stop lets the node announce, then cancels the timer and ignores late events', () => {
    const { transport, runner, node, clock, metrics } = setup();
    node.nextAt = 5_000;
    node.onStop = () => node.outbox.publish('/shoal/cell/1', encoded('leaving'));
    runner.start();
    runner.stop();
    assert.deepEqual(transport.published.map((p) => new TextDecoder().decode(p.data)), ['leaving'], 'the leave goes out during stop');
    assert.equal(clock.pending, 0, 'timer cancelled');
    clock.advance(10_000);
    assert.equal(node.calls.filter((c) => c.startsWith('timer')).length, 0, 'no timer after stop');
    assert.equal(transport.deliver(msg('late')), 'ignore', 'late messages are ignored');
    node.outbox.send('p', encoded('x'));
    node.outbox.connect('q', []);
    assert.deepEqual(metrics.events, ['send-dropped:stopped', 'dial-dropped:stopped'], 'late effects are dropped and counted');
    assert.throws(() => runner.start(), (e: unknown) => e instanceof ShoalError && e.code === 'NET_ALREADY_STARTED', 'a runner is single-use');
  });
});
