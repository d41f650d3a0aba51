import assert from 'node:assert/strict';
import type { Encoded, Millis, PeerIdStr, ProtocolNode, Verdict } from '../../src/core/index.ts';
import { defaultNetworkOptions } from '../../simulations/network/network-model.ts';
import { World, defaultWorldOptions } from '../../simulations/world/world.ts';
import { DUPS_IN, MSGS_IN } from '../../simulations/metrics/traffic-meter.ts';

const TOPIC = 'test/cell/0';

/** Subscribes to one topic and records first copies; rejects payloads whose text starts with "bad". */
class Recorder implements ProtocolNode {
  readonly got = new Map<string, number>();
  constructor(private_topic = TOPIC) {
    this.topicName = private_topic;
  }
  readonly topicName: string;
  outbox: { subscribe(t: string): void } | null = null;
  start(): void {
    this.outbox!.subscribe(this.topicName);
  }
  stop(): void {}
  onTopicMessage(_t: string, _f: PeerIdStr, _o: PeerIdStr, payload: Encoded, _now: Millis): Verdict {
    const text = payload.msg as string;
    this.got.set(text, (this.got.get(text) ?? 0) + 1);
    return text.startsWith('bad') ? 'reject' : 'accept';
  }
  onDirect(): void {}
  onTimer(): void {}
  nextTimerAtMs(): Millis {
    return Infinity;
  }
}

const msg = (text: string): Encoded<string> => ({ msg: text, bytes: new TextEncoder().encode(text.padEnd(100, '.')) });

function recorderWorld(n: number, seed: number, lossRate = 0): World<Recorder> {
  const world = new World<Recorder>(
    { ...defaultWorldOptions, seed, hostCapacity: n, network: { ...defaultNetworkOptions, lossRate, lossMode: 'drop' } },
    {
      factory: (ctx) => {
        const r = new Recorder();
        r.outbox = ctx.outbox;
        return r;
      },
    },
  );
  for (let i = 0; i < n; i++) world.startHost(i, i * 10, []);
  return world;
}

function receivers(world: World<Recorder>, text: string): number {
  let n = 0;
  for (let i = 0; i < world.hostCount; i++) if (world.alive[i] && (world.hosts[i]?.got.get(text) ?? 0) > 0) n++;
  return n;
}

describe('sim overlay: gossipsub model', () => {
  it('delivers each message once to every subscriber and counts the duplicates it costs', () => {
    const world = recorderWorld(300, 1);
    world.runUntil(5_000);
    for (let k = 0; k < 5; k++) world.at(5_000 + k * 100, (now) => world.overlay.publish(0, TOPIC, msg(`m${k}`), now));
    world.runUntil(10_000);
    world.finish(10_000);
    for (let k = 0; k < 5; k++) {
      for (let i = 1; i < 300; i++) assert.equal(world.hosts[i]!.got.get(`m${k}`), 1, `host ${i} must handle m${k} exactly once`);
      assert.equal(world.hosts[0]!.got.get(`m${k}`), undefined, 'the publisher never receives its own message');
    }
    const c = world.overlay.byKind[world.overlay.kindNames.indexOf('cell')]!;
    assert.equal(c.firstCopies, 5 * 299, 'first copies = messages × receivers');
    const dupsPerDelivery = c.duplicates / c.firstCopies;
    assert.ok(dupsPerDelivery >= 1 && dupsPerDelivery <= 12, `duplicates per delivery must be about D-1 (1..Dhi), got ${dupsPerDelivery.toFixed(2)}`);
    assert.equal(world.meter.totals[DUPS_IN], c.duplicates, 'every duplicate is counted in the per-host meter');
    assert.equal(world.meter.totals[MSGS_IN], c.firstCopies + c.duplicates, 'messages received per host include duplicates');
  });

  it('keeps every mesh degree within [Dlo, Dhi] after heartbeats', () => {
    const world = recorderWorld(300, 2);
    world.runUntil(8_000);
    const t = world.overlay.topics.get(TOPIC)!;
    const { Dlo, Dhi } = world.opts.gossipsub;
    for (let i = 0; i < t.count; i++) {
      const deg = t.meshDeg[t.members[i]!]!;
      assert.ok(deg >= Dlo && deg <= Dhi, `member ${i}: mesh degree ${deg} outside [${Dlo}, ${Dhi}]`);
    }
  });

  it('a reject stops the message at the first hop', () => {
    const world = recorderWorld(300, 3);
    world.runUntil(5_000);
    const t = world.overlay.topics.get(TOPIC)!;
    const fanout = t.meshDeg[t.nodePos.get(0)!]!;
    let m: ReturnType<typeof world.overlay.publish>;
    world.at(5_000, (now) => {
      m = world.overlay.publish(0, TOPIC, msg('bad-1'), now, 1);
    });
    world.runUntil(10_000);
    const c = world.overlay.corrupt[0]!;
    // Its mesh peers, plus non-mesh peers that IWANT it from the publisher's own IHAVE gossip: all one hop away.
    const seen = receivers(world, 'bad-1');
    assert.ok(seen >= fanout && seen <= fanout + 3 * 12, `only the publisher's neighbours may see a rejected message: ${seen} (mesh ${fanout})`);
    assert.equal(c.receivers, seen, 'the corrupt tracker counts each receiver once');
    assert.equal(c.forwarders, 0, 'no receiver forwards a rejected message');
    assert.equal(c.maxHop, 1, 'the rejected message travels one hop');
    assert.equal(m!.accepted, 0, 'nobody accepts it');
  });

  it('repairs most lost copies through IHAVE/IWANT (40% loss)', () => {
    const world = recorderWorld(300, 4, 0.4);
    world.runUntil(5_000);
    for (let k = 0; k < 10; k++) world.at(5_000 + k * 50, (now) => world.overlay.publish(k, TOPIC, msg(`l${k}`), now));
    world.runUntil(12_000);
    // Gossipsub promises no delivery: a copy can be lost on every mesh link and on the IWANT path
    // for the 3 heartbeats a message is gossiped. With 40% loss that is rare, not impossible.
    let reached = 0;
    for (let k = 0; k < 10; k++) reached += receivers(world, `l${k}`);
    assert.ok(reached >= 0.995 * 2990, `at least 99.5% of 2990 deliveries must happen despite 40% loss, got ${reached}`);
    const c = world.overlay.byKind[world.overlay.kindNames.indexOf('cell')]!;
    assert.ok(c.iwantRecoveries > 0, 'some deliveries must come through IWANT');
  });

  it('a partition stops delivery across it; after heal, lazy gossip reaches the other side', () => {
    const world = recorderWorld(200, 5);
    world.runUntil(5_000);
    const groups = new Int32Array(200);
    for (let i = 100; i < 200; i++) groups[i] = 1;
    world.setPartition(groups, 5_000);
    world.runUntil(20_000);
    world.at(20_000, (now) => world.overlay.publish(0, TOPIC, msg('p1'), now));
    world.runUntil(25_000);
    let across = 0;
    for (let i = 100; i < 200; i++) across += world.hosts[i]!.got.has('p1') ? 1 : 0;
    assert.equal(across, 0, 'no host across the partition may receive p1');
    assert.equal(receivers(world, 'p1'), 99, 'every host on the publisher side receives p1');
    world.setPartition(null, 25_000);
    world.at(25_000, (now) => world.overlay.publish(0, TOPIC, msg('p2'), now));
    world.runUntil(32_000);
    assert.equal(receivers(world, 'p2'), 199, 'after heal every host receives p2');
  });

  it('drops crashed hosts from meshes after deadPeerDetectMs and grafts back to Dlo', () => {
    const world = recorderWorld(300, 6);
    world.runUntil(5_000);
    for (let i = 0; i < 90; i++) world.crashHost(i, 5_000);
    world.runUntil(5_000 + world.opts.gossipsub.deadPeerDetectMs + 3_000);
    const t = world.overlay.topics.get(TOPIC)!;
    assert.equal(t.count, 210, 'crashed hosts leave the topic once noticed');
    for (let i = 0; i < t.count; i++) {
      const deg = t.meshDeg[t.members[i]!]!;
      assert.ok(deg >= world.opts.gossipsub.Dlo, `survivor ${i} must graft back to at least Dlo, has ${deg}`);
    }
    world.at(world.nowMs, (now) => world.overlay.publish(100, TOPIC, msg('after'), now));
    world.runUntil(world.nowMs + 3_000);
    assert.equal(receivers(world, 'after'), 209, 'survivors all receive a message after the crash');
  });
});
