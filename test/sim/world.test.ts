import assert from 'node:assert/strict';
import type { Encoded, Millis, PeerIdStr, ProtocolNode, Verdict } from '../../src/core/index.ts';
import { World, defaultWorldOptions } from '../../simulations/world/world.ts';
import { StandInNode, defaultStandInOptions } from './stand-in-node.ts';

/** A node whose timer plan the test controls. */
class TimerProbe implements ProtocolNode {
  fired: Millis[] = [];
  plan: Millis[];
  constructor(plan: Millis[]) {
    this.plan = plan;
  }
  start(): void {}
  stop(): void {}
  onTopicMessage(): Verdict {
    return 'accept';
  }
  onDirect(_from: PeerIdStr, _p: Encoded, _now: Millis): void {}
  onTimer(now: Millis): void {
    this.fired.push(now);
    this.plan = this.plan.filter((t) => t > now);
  }
  nextTimerAtMs(): Millis {
    return this.plan[0] ?? Infinity;
  }
}

function standInWorld(seed: number, hosts: number): World<StandInNode> {
  const world = new World<StandInNode>(
    { ...defaultWorldOptions, seed, hostCapacity: hosts },
    { factory: (ctx) => new StandInNode({ ...defaultStandInOptions, cellBits: 2 }, { self: ctx.self, rng: ctx.rng, outbox: ctx.outbox, seeds: ctx.seeds }) },
  );
  for (let i = 0; i < hosts; i++) world.startHost(i, 0, i > 0 ? [world.ids[0]!] : []);
  return world;
}

describe('sim world', () => {
  it('fires a node timer exactly when nextTimerAtMs asks, and honours postponement', () => {
    const world = new World<TimerProbe>({ ...defaultWorldOptions, hostCapacity: 2 }, { factory: null });
    const a = world.attachHost(0, new TimerProbe([100, 250, 250.5]), 0);
    world.runUntil(120);
    assert.deepEqual(a.fired, [100], 'first timer fires at 100 ms');
    // The node postpones: the queued 250 ms event must not fire it early.
    a.plan = [400];
    world.refreshTimer(0);
    world.runUntil(1000);
    assert.deepEqual(a.fired, [100, 400], 'a postponed timer fires at its new time only');
  });

  it('an idle node costs no events', () => {
    const world = new World<TimerProbe>({ ...defaultWorldOptions, hostCapacity: 2 }, { factory: null });
    world.attachHost(0, new TimerProbe([]), 0);
    world.runUntil(10_000);
    assert.equal(world.trace.events, 0, 'no timer or message events for an idle node');
  });

  it('runs stand-in nodes: every record reaches its cell, pings get acks', () => {
    const world = standInWorld(3, 200);
    world.runUntil(20_000);
    world.finish(20_000);
    assert.equal(world.handlerErrorCount, 0, `no handler errors: ${JSON.stringify(world.handlerErrors[0])}`);
    for (let i = 0; i < 200; i++) {
      const node = world.hosts[i]!;
      let cellMates = 0;
      for (let j = 0; j < 200; j++) if (j !== i && world.hosts[j]!.topic === node.topic) cellMates++;
      assert.equal(node.seen.size, cellMates, `host ${i} must have heard every member of its cell (${cellMates}), heard ${node.seen.size}`);
      assert.ok(node.acks > 10, `host ${i} must get acks for its pings, got ${node.acks}`);
    }
  });

  it('is deterministic: same seed, same trace hash; other seed, other hash', () => {
    const run = (seed: number): string => {
      const w = standInWorld(seed, 150);
      w.at(7_000, (now) => w.crashHost(5, now));
      w.runUntil(15_000);
      return `${w.trace.hex()}/${w.trace.events}`;
    };
    const a = run(11);
    const b = run(11);
    const c = run(12);
    assert.equal(a, b, `seed 11 twice must give one trace: ${a} vs ${b}`);
    assert.notEqual(a, c, `seeds 11 and 12 must give different traces, both ${a}`);
  });
});
