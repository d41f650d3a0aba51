import assert from 'node:assert/strict';
import { SeededRng } from '../../src/core/index.ts';
import { EventQueue } from '../../simulations/engine/event-queue.ts';
import { TraceHash } from '../../simulations/engine/trace-hash.ts';

describe('sim engine: EventQueue', () => {
  it('pops events in (time, insertion order), also across growth', () => {
    const seed = 0x5eed;
    const rng = new SeededRng(seed);
    const q = new EventQueue(16);
    const ref: { t: number; seq: number; node: number }[] = [];
    // Few distinct times, so ties are common and the seq tie-break is exercised.
    for (let i = 0; i < 5000; i++) {
      const t = rng.int(50) * 0.5;
      q.push(t, i % 7, i, i * 2);
      ref.push({ t, seq: i, node: i });
    }
    ref.sort((a, b) => a.t - b.t || a.seq - b.seq);
    for (let i = 0; i < ref.length; i++) {
      assert.ok(q.pop(), `seed ${seed}: queue must hold ${ref.length} events, ran dry at ${i}`);
      assert.equal(q.timeMs, ref[i]!.t, `seed ${seed}: event ${i} time`);
      assert.equal(q.node, ref[i]!.node, `seed ${seed}: event ${i} must be the earliest-inserted among equal times`);
      assert.equal(q.payload, ref[i]!.node * 2, `seed ${seed}: payload travels with its event`);
      assert.equal(q.kind, ref[i]!.node % 7, `seed ${seed}: kind travels with its event`);
    }
    assert.equal(q.pop(), false, 'empty queue pops nothing');
    assert.equal(q.peekTimeMs(), Infinity, 'empty queue peeks Infinity');
  });

  it('interleaved pushes and pops keep heap order (random, seeded)', () => {
    const seed = 42;
    const rng = new SeededRng(seed);
    const q = new EventQueue(16);
    let now = 0;
    let popped = 0;
    for (let i = 0; i < 200; i++) q.push(rng.next() * 100, 1, i, 0);
    let nextId = 200;
    while (q.pop()) {
      assert.ok(q.timeMs >= now, `seed ${seed}: time went backwards: ${q.timeMs} < ${now}`);
      now = q.timeMs;
      popped++;
      if (nextId < 20_000) {
        // Schedule into the future, sometimes at exactly now.
        q.push(now + (rng.next() < 0.2 ? 0 : rng.next() * 10), 1, nextId++, 0);
      }
    }
    assert.equal(popped, 20_000, `seed ${seed}: every pushed event pops exactly once`);
  });
});

describe('sim engine: TraceHash', () => {
  it('is equal for equal traces and differs when any field differs', () => {
    const a = new TraceHash();
    const b = new TraceHash();
    for (const h of [a, b]) {
      h.add(1.5, 3, 2, 100);
      h.add(2.001, 4, 3, 0);
    }
    assert.equal(a.hex(), b.hex(), 'same events must hash the same');
    const c = new TraceHash();
    c.add(1.5, 3, 2, 100);
    c.add(2.002, 4, 3, 0);
    assert.notEqual(a.hex(), c.hex(), 'a 1 µs time difference must change the hash');
    const d = new TraceHash();
    d.add(1.5, 3, 2, 101);
    d.add(2.001, 4, 3, 0);
    assert.notEqual(a.hex(), d.hex(), 'a size difference must change the hash');
  });
});
