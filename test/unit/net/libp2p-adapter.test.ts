import assert from 'node:assert/strict';
import { generateKeyPair } from '@libp2p/crypto/keys';
import { peerIdFromPrivateKey, peerIdFromString } from '@libp2p/peer-id';
import { Socket } from 'node:net';
import { Registry } from 'prom-client';
import { ShoalError } from '../../../src/core/errors.ts';
import { Libp2pTransport } from '../../../src/net/libp2p-transport.ts';
import { createNetMetrics, createProtocolRunnerMetrics, defaultTopicKind } from '../../../src/net/metrics.ts';
import { defaultNetOptions, resolveNetOptions } from '../../../src/net/options.ts';
import { SystemClock } from '../../../src/net/system-clock.ts';
import { connectTransports, startLibp2pTransports, testNetOptions, waitFor } from './libp2p-harness.ts';

const isCode = (code: string) => (e: unknown): boolean => e instanceof ShoalError && e.code === code;

describe('libp2p adapter specifics', function () {
  this.timeout(30_000);
  let nodes: Libp2pTransport[] = [];
  afterEach(async () => {
    await Promise.allSettled(nodes.map((n) => n.stop()));
    nodes = [];
  });

  it('reports a remote frame limit as NET_FRAME_TOO_LARGE (requester allows more than the responder)', async () => {
    nodes = await startLibp2pTransports([
      { opts: { requests: { maxFrameBytes: 256 * 1024, handlerTimeoutMs: 5_000, maxInboundStreams: 8, maxOutboundStreams: 8 } } },
      { opts: { requests: { maxFrameBytes: 1024, handlerTimeoutMs: 5_000, maxInboundStreams: 8, maxOutboundStreams: 8 } } },
    ]);
    let calls = 0;
    nodes[1]!.handle('/test/echo/1.0.0', (_f, d) => {
      calls++;
      return d;
    });
    await connectTransports(nodes[0]!, nodes[1]!);
    const err = await nodes[0]!.request(nodes[1]!.self, '/test/echo/1.0.0', new Uint8Array(2048), { timeoutMs: 5_000 }).then(() => null, (e: unknown) => e);
    assert.ok(isCode('NET_FRAME_TOO_LARGE')(err), `expected NET_FRAME_TOO_LARGE from the remote limit, got ${String(err)}`);
    assert.equal((err as ShoalError).details['remote'], true, 'the error says the remote refused');
    assert.equal(calls, 0, "the responder's handler never ran");
    const ok = await nodes[0]!.request(nodes[1]!.self, '/test/echo/1.0.0', new Uint8Array(1000), { timeoutMs: 5_000 });
    assert.equal(ok.length, 1000, 'the connection still serves requests afterwards');
  });

  it('carries concurrent requests on one stream per peer and protocol, answers matched by id in any order', async () => {
    nodes = await startLibp2pTransports([{}, {}]);
    const [a, b] = nodes as [Libp2pTransport, Libp2pTransport];
    const proto = '/test/order/1.0.0';
    let releaseFirst!: () => void;
    const firstHeld = new Promise<void>((r) => (releaseFirst = r));
    b.handle(proto, async (_f, d) => {
      if (d[0] === 0) await firstHeld; // the first request answers last
      return Uint8Array.of(d[0]! + 100);
    });
    await connectTransports(a, b);
    const first = a.request(b.self, proto, Uint8Array.of(0), { timeoutMs: 5_000 });
    const rest = await Promise.all([1, 2, 3, 4].map((i) => a.request(b.self, proto, Uint8Array.of(i), { timeoutMs: 5_000 })));
    assert.deepEqual(rest.map((r) => r[0]), [101, 102, 103, 104], 'each answer reaches its own request while the first is held');
    releaseFirst();
    assert.equal((await first)[0], 100, 'the held request gets its answer last');
    const streams = (t: Libp2pTransport, peer: string): number => t.libp2p.getConnections(peerIdFromString(peer)).flatMap((c) => c.streams).filter((s) => s.protocol === proto).length;
    assert.equal(streams(a, b.self), 1, "the requester opened one stream for five requests");
    assert.equal(streams(b, a.self), 1, 'the server sees one stream');
  });

  it('keeps serving on the same channel after a request times out, and opens a new one after the connection drops', async () => {
    nodes = await startLibp2pTransports([{}, {}]);
    const [a, b] = nodes as [Libp2pTransport, Libp2pTransport];
    const proto = '/test/channel/1.0.0';
    let cancelled = 0;
    b.handle(proto, (_f, d, signal) => {
      if (d[0] === 1) return d;
      return new Promise<Uint8Array>((_resolve, reject) => signal.addEventListener('abort', () => {
        cancelled++;
        reject(new Error('cancelled'));
      }));
    });
    await connectTransports(a, b);
    await assert.rejects(a.request(b.self, proto, Uint8Array.of(0), { timeoutMs: 200 }), isCode('NET_TIMEOUT'), 'the hanging request times out');
    await waitFor(() => cancelled === 1, 5_000, "the server's handler is cancelled");
    assert.deepEqual(await a.request(b.self, proto, Uint8Array.of(1), { timeoutMs: 5_000 }), Uint8Array.of(1), 'the channel still answers');
    await a.hangUp(b.self);
    await connectTransports(a, b);
    assert.deepEqual(await a.request(b.self, proto, Uint8Array.of(1), { timeoutMs: 5_000 }), Uint8Array.of(1), 'a new channel after reconnecting');
  });

  it('a small request and its answer cost one socket write each: no yamux window update per frame', async () => {
    nodes = await startLibp2pTransports([{}, {}]);
    const [a, b] = nodes as [Libp2pTransport, Libp2pTransport];
    b.handle('/test/echo/1.0.0', (_f, d) => d);
    await connectTransports(a, b);
    await a.request(b.self, '/test/echo/1.0.0', new Uint8Array(60), { timeoutMs: 5_000 }); // opens the channel
    const write = Socket.prototype.write;
    let writes = 0;
    Socket.prototype.write = function (this: Socket, ...args: unknown[]) {
      writes++;
      return (write as (...a: unknown[]) => boolean).apply(this, args);
    } as typeof write;
    try {
      for (let i = 0; i < 20; i++) await a.request(b.self, '/test/echo/1.0.0', new Uint8Array(60), { timeoutMs: 5_000 });
    } finally {
      Socket.prototype.write = write;
    }
    // 40 frames, one write each; a window update per frame makes 80. The slack is for what
    // libp2p itself may send meanwhile on a loaded machine (identify, gossipsub heartbeats).
    assert.ok(writes >= 40 && writes < 60, `20 requests and 20 answers should take ~40 writes, not 80 (a window update per frame); got ${writes}`);
  });

  it('moves frames far larger than the yamux window both ways (window updates still flow)', async () => {
    const big = { requests: { maxFrameBytes: 4 * 1024 * 1024, handlerTimeoutMs: 10_000, maxInboundStreams: 8, maxOutboundStreams: 8 } };
    nodes = await startLibp2pTransports([{ opts: big }, { opts: big }]);
    const [a, b] = nodes as [Libp2pTransport, Libp2pTransport];
    b.handle('/test/echo/1.0.0', (_f, d) => d.map((x) => x ^ 0xff));
    await connectTransports(a, b);
    const body = new Uint8Array(3 * 1024 * 1024).map((_, i) => i % 251);
    for (let round = 0; round < 2; round++) {
      const res = await a.request(b.self, '/test/echo/1.0.0', body, { timeoutMs: 20_000 });
      assert.equal(res.length, body.length, `round ${round}: the whole 3 MiB answer`);
      assert.ok(res.every((x, i) => x === ((i % 251) ^ 0xff)), `round ${round}: every byte intact`);
    }
  });

  it('gives precise errors for bad peer ids, bad addresses, and unknown peers', async () => {
    nodes = await startLibp2pTransports([{}, {}]);
    const [a, b] = nodes as [Libp2pTransport, Libp2pTransport];
    await assert.rejects(a.request('not-a-peer-id', '/x/1.0.0', new Uint8Array(1), { timeoutMs: 1_000 }), isCode('NET_INVALID_PEER_ID'), 'request to garbage id');
    await assert.rejects(a.dial('not-a-peer-id', []), isCode('NET_INVALID_PEER_ID'), 'dial garbage id');
    await assert.rejects(a.dial(b.self, ['/ip4/999.1.1.1/tcp/1']), isCode('NET_INVALID_ADDR'), 'dial garbage multiaddr');
    await assert.rejects(a.dial(b.self, [`/ip4/127.0.0.1/tcp/1/p2p/${a.self}`]), isCode('NET_INVALID_ADDR'), 'address naming another peer');
    await assert.rejects(a.request(b.self, '/x/1.0.0', new Uint8Array(1), { timeoutMs: 0 }), isCode('NET_INVALID_OPTIONS'), 'timeoutMs 0');
    const unknown = peerIdFromPrivateKey(await generateKeyPair('Ed25519')).toString();
    await assert.rejects(a.request(unknown, '/x/1.0.0', new Uint8Array(1), { timeoutMs: 2_000 }), isCode('NET_UNREACHABLE'), 'request to a peer with no known address');
    await assert.rejects(a.dial(b.self, ['/ip4/127.0.0.1/tcp/1']), isCode('NET_UNREACHABLE'), 'dial to a closed port');
  });

  it('joins by bare multiaddr and learns who answered', async () => {
    nodes = await startLibp2pTransports([{}, {}]);
    const [a, b] = nodes as [Libp2pTransport, Libp2pTransport];
    const bare = b.listenAddrs()[0]!.replace(/\/p2p\/.*$/, '');
    assert.ok(!bare.includes('/p2p/'), 'address without a peer id');
    assert.equal(await a.dialAddr(bare), b.self, 'dialAddr returns the remote peer id');
    await waitFor(() => b.connectedPeers().includes(a.self), 5_000, 'b sees a');
  });

  it('fails start with NET_LISTEN_FAILED when the port is taken, and is single-use', async () => {
    nodes = await startLibp2pTransports([{}]);
    const port = nodes[0]!.listenAddrs()[0]!.match(/\/tcp\/(\d+)/)![1];
    const t = await Libp2pTransport.create({ ...testNetOptions, listenAddrs: [`/ip4/127.0.0.1/tcp/${port}`] }, { privateKey: await generateKeyPair('Ed25519'), swarmKey: null, metrics: null });
    nodes.push(t);
    await assert.rejects(t.start(), isCode('NET_LISTEN_FAILED'), 'port in use');
    await t.stop();
    await assert.rejects(t.start(), isCode('NET_ALREADY_STARTED'), 'a stopped transport cannot restart');
  });

  it('rejects a malformed swarm key before libp2p sees it', async () => {
    await assert.rejects(
      Libp2pTransport.create(testNetOptions, { privateKey: await generateKeyPair('Ed25519'), swarmKey: new TextEncoder().encode('not a key'), metrics: null }),
      isCode('NET_SWARM_KEY_INVALID'),
      'garbage key text',
    );
  });

  it('registers prometheus metrics with bounded labels', async () => {
    const registry = new Registry();
    const metrics = createNetMetrics(registry);
    nodes = await startLibp2pTransports([{ metrics }, {}]);
    const [a, b] = nodes as [Libp2pTransport, Libp2pTransport];
    await connectTransports(a, b);
    b.subscribe('/shoal/cell/7');
    a.subscribe('/shoal/cell/7');
    b.setTopicHandler(() => 'accept');
    await waitFor(() => a.topicPeers('/shoal/cell/7').length === 1, 5_000, 'a sees b');
    a.publish('/shoal/cell/7', new Uint8Array(10));
    a.publish('/shoal/nothing', new Uint8Array(3));
    const text = async (): Promise<string> => registry.metrics();
    let out = '';
    await waitFor(() => {
      void text().then((t) => (out = t));
      return out.includes('shoal_net_messages_out_total{kind="cell"} 1') && out.includes('shoal_net_publish_failures_total{kind="other",reason="no_peers"} 1');
    }, 5_000, 'counters exported');
    assert.match(out, /shoal_net_message_out_bytes_total\{kind="cell"\} 10/, 'bytes out by kind');
    assert.match(out, /shoal_net_peers 1/, 'peer gauge');
    assert.doesNotMatch(out, /12D3Koo/, 'no peer id in any label');
  });
});

describe('net options and helpers', () => {
  it('validates options with precise errors', () => {
    assert.deepEqual(resolveNetOptions(), defaultNetOptions, 'no input: the defaults');
    assert.equal(resolveNetOptions({ gossip: { D: 8 } }).gossip.Dlo, defaultNetOptions.gossip.Dlo, 'partial sections merge with defaults');
    const bad = (input: Parameters<typeof resolveNetOptions>[0], field: string): void => {
      assert.throws(() => resolveNetOptions(input), (e: unknown) => isCode('NET_INVALID_OPTIONS')(e) && (e as ShoalError).details['field'] === field, `expected NET_INVALID_OPTIONS on ${field}`);
    };
    bad({ gossip: { D: 3, Dlo: 4 } }, 'gossip.D');
    bad({ gossip: { maxMessageBytes: 0 } }, 'gossip.maxMessageBytes');
    bad({ gossip: { maxMessageBytes: 1 << 20, maxRpcBytes: 1 << 20 } }, 'gossip.maxRpcBytes');
    bad({ scoring: { invalidMessageWeight: 0 } }, 'scoring.invalidMessageWeight');
    bad({ scoring: { graylistThreshold: -5 } }, 'scoring.thresholds');
    bad({ requests: { maxFrameBytes: -1 } as never }, 'requests.maxFrameBytes');
    bad({ listenAddrs: [] }, 'listenAddrs');
  });

  it('exports runner metrics to prometheus', async () => {
    const registry = new Registry();
    const m = createProtocolRunnerMetrics(registry);
    m.decodeFailed('cell', 'reject', 'GOSSIP_SCHEMA');
    m.queuedDials(3);
    const out = await registry.metrics();
    assert.match(out, /shoal_net_decode_failures_total\{kind="cell",action="reject",code="GOSSIP_SCHEMA"\} 1/, 'decode failures by kind, action, code');
    assert.match(out, /shoal_net_dial_queue_depth 3/, 'dial queue depth gauge');
  });

  it('maps topics to a bounded set of kinds', () => {
    assert.equal(defaultTopicKind('shoal/1/prod/b4/c12'), 'cell', 'Shoal cell topic');
    assert.equal(defaultTopicKind('shoal/1/prod/b4/d0'), 'district', 'Shoal district topic');
    assert.equal(defaultTopicKind('shoal/1/prod/global'), 'global', 'Shoal global topic');
    assert.equal(defaultTopicKind('/shoal/prod/cell/0101'), 'cell', 'cell segment');
    assert.equal(defaultTopicKind('/shoal/prod/district/3'), 'district', 'district segment');
    assert.equal(defaultTopicKind('/shoal/prod/global'), 'global', 'global as last segment');
    assert.equal(defaultTopicKind('/shoal/prod/cellular/1'), 'other', 'a prefix of a word is not a segment');
    assert.equal(defaultTopicKind('12D3KooWcell'), 'other', 'anything else is other');
  });

  it('SystemClock schedules, cancels and clamps odd delays', async () => {
    const clock = new SystemClock();
    const t0 = clock.now();
    const fired: string[] = [];
    clock.schedule(5, () => fired.push('a'));
    clock.schedule(Number.NaN, () => fired.push('nan')).cancel();
    const h = clock.schedule(1, () => fired.push('cancelled'));
    h.cancel();
    clock.schedule(-10, () => fired.push('b'));
    await waitFor(() => fired.length >= 2, 1_000, 'two timers fire');
    assert.deepEqual(fired.sort(), ['a', 'b'], 'cancelled timers never fire; negative delay fires at once');
    assert.ok(clock.now() >= t0, 'time moves forward');
  });
});
