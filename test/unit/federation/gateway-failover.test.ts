import assert from 'node:assert/strict';
import { GatewayFailover } from '../../../src/federation/index.ts';

const OPTS = { backoffMs: 1_000, maxBackoffMs: 8_000 };

describe('federation: gateway failover', () => {
  it('moves a failed gateway to the back until its back-off ends', () => {
    const f = new GatewayFailover(OPTS, ['g1', 'g2', 'g3']);
    assert.deepEqual(f.order(0), ['g1', 'g2', 'g3']);
    f.failed('g1', 0);
    assert.deepEqual(f.order(500), ['g2', 'g3', 'g1'], 'g1 backs off for 1 s');
    assert.equal(f.isReady('g1', 500), false);
    assert.deepEqual(f.order(1_000), ['g1', 'g2', 'g3'], 'g1 is tried first again once its back-off ends');
  });

  it('doubles the back-off on each failure, up to the maximum, and forgets it on success', () => {
    const f = new GatewayFailover(OPTS, ['g1', 'g2']);
    const waits: number[] = [];
    let t = 0;
    for (let i = 0; i < 6; i++) {
      f.failed('g1', t);
      let until = t;
      while (!f.isReady('g1', until)) until += 100;
      waits.push(until - t);
      t = until;
    }
    assert.deepEqual(waits, [1_000, 2_000, 4_000, 8_000, 8_000, 8_000]);
    f.succeeded('g1');
    f.failed('g1', t);
    assert.equal(f.isReady('g1', t + 1_000), true, 'after a success the next failure starts from the first back-off');
  });

  it('sticks to the gateway that answered last', () => {
    const f = new GatewayFailover(OPTS, ['g1', 'g2', 'g3']);
    f.succeeded('g3');
    assert.equal(f.active, 'g3');
    assert.deepEqual(f.order(0), ['g3', 'g1', 'g2']);
    f.failed('g3', 0);
    assert.equal(f.active, undefined, 'a failed gateway is no longer the active one');
    assert.deepEqual(f.order(0), ['g1', 'g2', 'g3']);
  });

  it('when every gateway backs off, the one ready soonest comes first (never an empty order)', () => {
    const f = new GatewayFailover(OPTS, ['g1', 'g2']);
    f.failed('g1', 0);
    f.failed('g1', 0);
    f.failed('g2', 0);
    assert.deepEqual(f.order(10), ['g2', 'g1']);
    assert.equal(f.backingOff(10), 2);
  });

  it('the chooser rotates the preference, so entry agents spread over the gateways', () => {
    const firsts = new Set<string>();
    for (let i = 0; i < 50; i++) firsts.add(new GatewayFailover(OPTS, ['g1', 'g2', 'g3'], `agent-${i}`).order(0)[0]!);
    assert.equal(firsts.size, 3, `50 agents should use all 3 gateways first, used ${[...firsts].join(', ')}`);
    assert.deepEqual(new GatewayFailover(OPTS, ['g1', 'g2', 'g3'], 'x').order(0), new GatewayFailover(OPTS, ['g1', 'g2', 'g3'], 'x').order(0), 'deterministic per chooser');
  });
});
