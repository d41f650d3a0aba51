import assert from 'node:assert/strict';
import type { Millis } from '../../../src/core/clock.ts';
import type { Encoded, Outbox, ProtocolNode } from '../../../src/core/protocol.ts';
import type { PeerIdStr, Verdict } from '../../../src/core/transport.ts';
import type { Libp2pTransport } from '../../../src/net/libp2p-transport.ts';
import { ProtocolRunner } from '../../../src/net/protocol-runner.ts';
import { SystemClock } from '../../../src/net/system-clock.ts';
import { encoded, textCodec } from './fakes.ts';
import { connectTransports, startLibp2pTransports, waitFor } from './libp2p-harness.ts';

const TOPIC = '/shoal/test/cell/0';

/**
 * A toy protocol: says hello every 100 ms until two peers acked (or 100 tries; a publish
 * with no subscribers yet is dropped), acks every hello directly, says bye on stop.
 */
class HelloNode implements ProtocolNode {
  readonly topicLog: Array<{ text: string; from: PeerIdStr; origin: PeerIdStr }> = [];
  readonly directLog: Array<{ text: string; from: PeerIdStr }> = [];
  readonly self: PeerIdStr;
  readonly #outbox: Outbox;
  readonly #contacts: ReadonlyArray<{ peer: PeerIdStr; addrs: string[] }>;
  #nextAt: Millis = Infinity;
  #hellos = 0;

  constructor(self: PeerIdStr, outbox: Outbox, contacts: ReadonlyArray<{ peer: PeerIdStr; addrs: string[] }> = []) {
    this.self = self;
    this.#outbox = outbox;
    this.#contacts = contacts;
  }
  start(now: Millis): void {
    this.#outbox.subscribe(TOPIC);
    for (const c of this.#contacts) this.#outbox.connect(c.peer, c.addrs);
    this.#nextAt = now + 20;
  }
  stop(): void {
    this.#outbox.publish(TOPIC, encoded(`bye:${this.self}`));
  }
  onTopicMessage(_topic: string, from: PeerIdStr, origin: PeerIdStr, payload: Encoded, _now: Millis): Verdict {
    const text = payload.msg as string;
    this.topicLog.push({ text, from, origin });
    if (text.startsWith('hello')) this.#outbox.send(origin, encoded(`ack:${this.self}`));
    return 'accept';
  }
  onDirect(from: PeerIdStr, payload: Encoded): void {
    this.directLog.push({ text: payload.msg as string, from });
  }
  onTimer(now: Millis): void {
    const ackers = new Set(this.directLog.map((d) => d.from));
    if (ackers.size >= 2 || this.#hellos >= 100) {
      this.#nextAt = Infinity;
      return;
    }
    // Distinct bytes each time: identical bytes would be deduplicated by content id.
    this.#outbox.publish(TOPIC, encoded(`hello:${this.self}:${this.#hellos++}`));
    this.#nextAt = now + 100;
  }
  nextTimerAtMs(): Millis {
    return this.#nextAt;
  }
}

describe('ProtocolRunner over real libp2p', function () {
  this.timeout(30_000);
  let transports: Libp2pTransport[] = [];
  let runners: ProtocolRunner[] = [];
  afterEach(async () => {
    runners.forEach((r) => r.stop());
    await Promise.allSettled(transports.map((t) => t.stop()));
    transports = [];
    runners = [];
  });

  it('runs a sans-I/O node end to end: timer → publish, topic → direct send, connect effect, leave on stop', async () => {
    transports = await startLibp2pTransports([{}, {}, {}]);
    const [a, b, c] = transports as [Libp2pTransport, Libp2pTransport, Libp2pTransport];
    await connectTransports(a, b);
    const clock = new SystemClock();
    const nodes: HelloNode[] = [];
    const mk = (t: Libp2pTransport, contacts: Array<{ peer: PeerIdStr; addrs: string[] }> = []): void => {
      const r = new ProtocolRunner({ sendTimeoutMs: 5_000 }, {
        node: (outbox) => {
          const n = new HelloNode(t.self, outbox, contacts);
          nodes.push(n);
          return n;
        },
        transport: t,
        clock,
        codec: textCodec,
        metrics: null,
      });
      runners.push(r);
    };
    // b and c subscribe first, so a's hello has an audience; a asks (through its Outbox) to connect to c.
    mk(b);
    mk(c);
    runners[0]!.start();
    runners[1]!.start();
    await waitFor(() => b.topicPeers(TOPIC).length === 0 && c.listenAddrs().length > 0, 5_000, 'b and c up');
    mk(a, [{ peer: c.self, addrs: c.listenAddrs() }]);
    runners[2]!.start();
    const [nb, nc, na] = nodes as [HelloNode, HelloNode, HelloNode];

    await waitFor(() => a.connectedPeers().includes(c.self), 5_000, 'the Outbox.connect effect dialled c');
    const hello = (m: { text: string }): boolean => m.text.startsWith(`hello:${a.self}:`);
    await waitFor(() => nb.topicLog.some(hello) && nc.topicLog.some(hello), 10_000, "a's timer-driven hello reached b and c");
    assert.ok(nb.topicLog.filter(hello).every((m) => m.origin === a.self), 'origin is the publisher');
    await waitFor(() => new Set(na.directLog.map((d) => d.from)).size === 2, 10_000, 'acks from b and c reached a as direct messages');
    assert.deepEqual([...new Set(na.directLog.map((d) => d.from))].sort(), [b.self, c.self].sort(), 'acks come from b and c, with the sender as from');
    assert.ok(na.directLog.every((d) => d.text === `ack:${d.from}`), 'ack payloads decoded intact');
    await waitFor(() => runners[2]!.armedAtMs === Infinity, 5_000, "a's node goes idle once acked: no timer left");

    // Graceful leave: the runner lets the node publish, and the transport drains it before closing.
    runners[0]!.stop();
    await b.stop();
    await waitFor(() => na.topicLog.some((m) => m.text === `bye:${b.self}`), 5_000, "b's leave announcement reached a");
  });

  it('rejects an undecodable topic message before the node sees it', async () => {
    transports = await startLibp2pTransports([{}, {}]);
    const [a, b] = transports as [Libp2pTransport, Libp2pTransport];
    await connectTransports(a, b);
    const clock = new SystemClock();
    let nb!: HelloNode;
    const rb = new ProtocolRunner({}, { node: (o) => (nb = new HelloNode(b.self, o)), transport: b, clock, codec: textCodec, metrics: null });
    runners.push(rb);
    rb.start();
    a.subscribe(TOPIC);
    await waitFor(() => a.topicPeers(TOPIC).includes(b.self), 5_000, 'a sees b subscribed');
    a.publish(TOPIC, new TextEncoder().encode('bad:reject:SCHEMA'));
    await waitFor(() => b.peerScore(a.self) < 0, 5_000, 'the decode reject lowered a\'s score at b');
    assert.equal(nb.topicLog.filter((m) => m.text.startsWith('bad')).length, 0, 'the node never saw the undecodable message');
  });
});
