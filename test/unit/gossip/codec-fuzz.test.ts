import assert from 'node:assert/strict';
import fc from 'fast-check';
import {
  GossipValidationError,
  decodeDirect,
  decodeTopicMessage,
  encodeDigest,
  encodePing,
  encodeEvents,
  encodeRecord,
  encodeSummary,
  encodeSyncResp,
  globalTopic,
} from '../../../src/gossip/index.ts';
import { CLUSTER, cellTopicOf, districtTopicOf, record, resealBody, seal, summary } from './fixtures.ts';

/**
 * The S3 case (2008): state messages with a flipped bit were still readable, spread, and
 * took the fleet down. Properties here:
 *  1. Random bytes never make a decoder throw anything but GossipValidationError.
 *  2. Any bit flip of a valid message is rejected (the CRC-32 trailer: every 1- to 3-bit
 *     error is detected), so nothing corrupt is applied or forwarded.
 *  3. The checksum-free argument: a flip that happens BEFORE the checksum (and the
 *     gossipsub signature) is computed — in the sender's memory — is re-sealed here. Then
 *     the decoder still never throws anything else, and whatever it accepts is schema-
 *     and bounds-valid (free ≤ capacity, fits non-increasing, ids in their cell, …). What
 *     stays schema-valid (free.vcpus 16 → 48, seq 7 → 135) cannot be told from a real
 *     update by any receiver: the sender's signature covers it. Damage is bounded by
 *     placement's design: the host is the only authority on its capacity and its admission
 *     re-checks, so a wrong number costs a retry, not an overcommit.
 */
const SEED = Number(process.env.FUZZ_SEED ?? Date.now() % 2 ** 31);
const RUNS = Number(process.env.FUZZ_RUNS ?? 400);

function onlyValidationErrors(fn: () => unknown): 'ok' | string {
  try {
    fn();
    return 'ok';
  } catch (err) {
    if (err instanceof GossipValidationError) return err.code;
    throw new Error(`decoder threw a non-validation error: ${String(err)} (seed ${SEED})`);
  }
}

const samples = (() => {
  const rec = encodeRecord(record('peerA'));
  const ev = encodeEvents(CLUSTER, 'peerA', [{ kind: 'suspect', peer: 'peerA', incarnation: 4, confirmations: 1 }]);
  const sum = encodeSummary(summary('peerA', 2, 1000, ['peerA', 'b', 'c', 'd']));
  const dig = encodeDigest({ cluster: CLUSTER, reporter: 'peerA', cellBits: 0, districtBits: 0, district: 0, issuedAtMs: 5, full: false, summaries: [summary('peerA', 0, 4, ['peerA', 'q'])], versions: [{ cellBits: 0, cell: 0, issuedAtMs: 3, contentHash: 0xdeadbeef }] });
  const sync = encodeSyncResp({ cluster: CLUSTER, cellBits: 2, estimatedSize: 12, cell: 1, members: [{ record: record('peerA'), status: 'alive', statusIncarnation: 3 }], summaries: [summary('peerA', 2, 9)], nextCursor: -1, inSync: false, announced: false });
  return [
    { name: 'record', topic: cellTopicOf('peerA', 2), bytes: rec.bytes },
    { name: 'events', topic: cellTopicOf('peerA', 2), bytes: ev.bytes },
    { name: 'summary', topic: districtTopicOf('peerA', 2), bytes: sum.bytes },
    { name: 'digest', topic: globalTopic(CLUSTER), bytes: dig.bytes },
    { name: 'sync-resp', topic: null, bytes: sync.bytes },
    { name: 'ping', topic: null, bytes: encodePing(0x12345678).bytes },
  ];
})();

function decode(topic: string | null, bytes: Uint8Array): unknown {
  return topic === null ? decodeDirect(bytes) : decodeTopicMessage(topic, bytes);
}

describe(`gossip decoders under fuzzing (seed ${SEED}, ${RUNS} runs each; FUZZ_SEED=… to replay)`, () => {
  it('random bytes: only GossipValidationError, never a crash', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 2048 }), fc.constantFrom(...samples.map((s) => s.topic)), (bytes, topic) => {
        onlyValidationErrors(() => decode(topic, bytes));
      }),
      { seed: SEED, numRuns: RUNS * 5 },
    );
  });

  it('random msgpack values with a valid checksum: only GossipValidationError', () => {
    const tupleish = fc.array(fc.oneof(fc.integer(), fc.string(), fc.boolean(), fc.constant(null), fc.array(fc.anything(), { maxLength: 4 }), fc.double()), { maxLength: 20 });
    fc.assert(
      fc.property(fc.oneof(fc.anything(), tupleish.map((t) => [1, 1, ...t]), tupleish.map((t) => [1, 3, ...t]), tupleish.map((t) => [1, 15, ...t])), fc.constantFrom(...samples.map((s) => s.topic)), (value, topic) => {
        onlyValidationErrors(() => decode(topic, seal(value)));
      }),
      { seed: SEED, numRuns: RUNS * 5 },
    );
  });

  it('1 to 3 bit flips of every message type: always rejected (checksum)', () => {
    fc.assert(
      fc.property(fc.constantFrom(...samples), fc.array(fc.nat(), { minLength: 1, maxLength: 3 }), (sample, positions) => {
        const bytes = sample.bytes.slice();
        const bits = new Set(positions.map((p) => p % (bytes.length * 8)));
        for (const bit of bits) bytes[bit >> 3] = bytes[bit >> 3]! ^ (1 << (bit & 7));
        const outcome = onlyValidationErrors(() => decode(sample.topic, bytes));
        assert.notEqual(outcome, 'ok', `a ${sample.name} with bits ${[...bits]} flipped decoded as valid (seed ${SEED})`);
      }),
      { seed: SEED, numRuns: RUNS * 5 },
    );
  });

  it('checksum-free: flips before sealing never crash; what decodes is schema- and bounds-valid', () => {
    const outcomes = new Map<string, number>();
    fc.assert(
      fc.property(fc.constantFrom(...samples), fc.nat(), (sample, pos) => {
        const body = sample.bytes.slice(0, sample.bytes.length - 4);
        const bit = pos % (body.length * 8);
        body[bit >> 3] = body[bit >> 3]! ^ (1 << (bit & 7));
        const outcome = onlyValidationErrors(() => {
          const dec = decode(sample.topic, resealBody(body)) as { msg: unknown };
          const msg = dec.msg as { type: string; record?: { free: { vcpus: number }; capacity: { vcpus: number } } };
          if (msg.type === 'record') {
            assert.ok(msg.record!.free.vcpus <= msg.record!.capacity.vcpus, `accepted a record with free > capacity (seed ${SEED})`);
          }
        });
        const key = `${sample.name}:${outcome}`;
        outcomes.set(key, (outcomes.get(key) ?? 0) + 1);
      }),
      { seed: SEED, numRuns: RUNS * 5 },
    );
    const caught = [...outcomes].filter(([k]) => !k.endsWith(':ok')).reduce((a, [, n]) => a + n, 0);
    const passed = [...outcomes].filter(([k]) => k.endsWith(':ok')).reduce((a, [, n]) => a + n, 0);
    console.log(`      single flips before sealing: ${caught} caught by schema/bounds/cell checks, ${passed} schema-valid (only the signature or the host's admission can catch those)`);
    console.log(`      ${[...outcomes].sort().map(([k, n]) => `${k}=${n}`).join(' ')}`);
    assert.ok(caught > passed / 4, `expected the structural checks to catch a good share of pre-seal flips, got ${caught} caught vs ${passed} passed`);
  });
});
