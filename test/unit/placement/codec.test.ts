import assert from 'node:assert/strict';
import fc from 'fast-check';
import { Packr } from 'msgpackr';
import {
  PLACEMENT_PROTOCOL_VERSION,
  PlacementError,
  decodePlacementMessage,
  encodePlacementMessage,
  placementSpecDigest,
  type PlacementMessage,
} from '../../../src/placement/index.ts';
import { FC_SEED, fcParams, spec } from './fixtures.ts';

const packr = new Packr({ useRecords: false });
const s = spec({ idempotencyKey: 'k1', constraints: { zone: 'b', hostLabels: { energy: 'hydro' } }, preferences: [{ label: 'price', weight: -1 }] });
const digest = placementSpecDigest(s);
const free = { vcpus: 3, memoryMiB: -512, diskGiB: 10 };

const SAMPLES: PlacementMessage[] = [
  { v: 1, t: 'submit', id: 7, entry: 'e', tenant: 'default', key: 'k1', spec: s, specDigest: digest, hops: 0, avoid: ['x'] },
  { v: 1, t: 'submit', id: 7, entry: 'e', tenant: 'default', key: 'k1', spec: s, specDigest: digest, hops: 2, avoid: [], jobIdHint: '00000000000abcdefghjkm' },
  { v: 1, t: 'submit-ack', id: 7, owner: 'o', jobId: 'j' },
  { v: 1, t: 'submit-ack', id: 7, owner: 'o' },
  { v: 1, t: 'submit-result', id: 7, outcome: { type: 'placed', jobId: 'j', host: 'h', epoch: 1, driver: 'qemu', duplicate: false, asks: 1 } },
  {
    v: 1,
    t: 'submit-result',
    id: 7,
    outcome: { type: 'refused', code: 'PLACEMENT_NO_CAPACITY', message: 'no host', reasons: { 'short-memory': 3 }, checked: 4, rejections: {}, rejected: 0, asks: 0 },
  },
  { v: 1, t: 'submit-result', id: 7, outcome: { type: 'failed', code: 'PLACEMENT_IDEMPOTENCY_CONFLICT', message: 'conflict', asks: 0 } },
  { v: 1, t: 'route', id: 8, jobId: 'j', epoch: 2, spec: s, specDigest: digest, maxAsks: 2, exclude: ['h1'], budgetMs: 2000 },
  { v: 1, t: 'route-result', id: 8, jobId: 'j', outcome: { type: 'placed', jobId: 'j', host: 'h', epoch: 2, driver: 'fake', duplicate: true, free, asks: 2 } },
  { v: 1, t: 'admit', id: 9, jobId: 'j', epoch: 1, spec: s, specDigest: digest },
  { v: 1, t: 'admit-result', id: 9, result: { type: 'accepted', jobId: 'j', epoch: 1, driver: 'libvirt', duplicate: false, free } },
  { v: 1, t: 'admit-result', id: 9, result: { type: 'rejected', code: 'PLACEMENT_ANTI_AFFINITY', reason: 'anti-affinity', message: 'no', free } },
  { v: 1, t: 'admit-result', id: 9, result: { type: 'rejected', code: 'PLACEMENT_IDEMPOTENCY_CONFLICT', reason: null, message: 'no', free } },
  { v: 1, t: 'release', jobId: 'j', epoch: 3 },
  { v: 1, t: 'locate', id: 10, entry: 'e', jobId: 'j', hops: 1, avoid: [] },
  { v: 1, t: 'locate-result', id: 10, jobId: 'j', binding: { host: 'h', epoch: 1, state: 'placed' } },
  { v: 1, t: 'locate-result', id: 10, jobId: 'j', binding: null },
];

function decodeError(bytes: Uint8Array, max?: number): PlacementError {
  try {
    decodePlacementMessage(bytes, max);
  } catch (err) {
    assert.ok(err instanceof PlacementError, `expected a PlacementError, got ${String(err)}`);
    return err;
  }
  assert.fail('decoding must have thrown');
}

describe('placement codec', () => {
  it('round-trips every message type unchanged', () => {
    for (const msg of SAMPLES) {
      const back = decodePlacementMessage(encodePlacementMessage(msg));
      assert.deepEqual(back, msg, `${msg.t} must decode to what was encoded`);
    }
  });

  it('refuses to encode or decode past the size limit', () => {
    const big = { ...SAMPLES[0]!, spec: { ...s, image: 'x'.repeat(4000) } } as PlacementMessage;
    assert.throws(
      () => encodePlacementMessage(big, 1024),
      (err: unknown) => err instanceof PlacementError && err.code === 'PLACEMENT_MESSAGE_TOO_LARGE' && /over the 1024-byte limit/.test(err.message),
      'encoding a 4 KB spec under a 1 KiB limit must fail with PLACEMENT_MESSAGE_TOO_LARGE',
    );
    const bytes = encodePlacementMessage(big);
    assert.equal(decodeError(bytes, 1024).code, 'PLACEMENT_MESSAGE_TOO_LARGE', 'decoding past the limit must fail before parsing');
  });

  it('rejects malformed bytes, wrong versions, unknown types and schema violations with distinct codes', () => {
    assert.equal(decodeError(new Uint8Array([])).code, 'PLACEMENT_MALFORMED_MESSAGE', 'empty frame');
    assert.equal(decodeError(new Uint8Array([0xc1])).code, 'PLACEMENT_MALFORMED_MESSAGE', '0xc1 is never valid msgpack');
    assert.equal(decodeError(packr.pack([1, 2, 3])).code, 'PLACEMENT_MALFORMED_MESSAGE', 'an array is not an envelope');
    const v2 = decodeError(packr.pack({ ...SAMPLES[13], v: 2 }));
    assert.equal(v2.code, 'PLACEMENT_UNSUPPORTED_VERSION', 'version 2 is unsupported');
    assert.match(v2.message, /version 2 is not supported/);
    assert.equal(decodeError(packr.pack({ v: PLACEMENT_PROTOCOL_VERSION, t: 'gossip' })).code, 'PLACEMENT_INVALID_MESSAGE', 'unknown type');
    const neg = decodeError(packr.pack({ v: 1, t: 'release', jobId: 'j', epoch: -1 }));
    assert.equal(neg.code, 'PLACEMENT_INVALID_MESSAGE');
    assert.match(neg.message, /epoch/, 'the message names the bad field');
    const extra = decodeError(packr.pack({ v: 1, t: 'release', jobId: 'j', epoch: 1, evil: true }));
    assert.equal(extra.code, 'PLACEMENT_INVALID_MESSAGE', 'unknown keys are rejected, not dropped');
    const badSpec = decodeError(packr.pack({ ...SAMPLES[9], spec: { ...s, resources: { vcpus: 0, memoryMiB: 1, diskGiB: 0 } } }));
    assert.match(badSpec.message, /spec\.resources\.vcpus/, 'a bad spec field is named by its path');
    const proto = decodeError(packr.pack({ v: 1, t: 'release', jobId: 'j', epoch: 1, ['__proto__']: { polluted: true } }));
    assert.equal(proto.code, 'PLACEMENT_INVALID_MESSAGE', 'a __proto__ key is an unknown key');
    assert.equal(({} as Record<string, unknown>).polluted, undefined, 'decoding must not pollute Object.prototype');
  });

  it('a uint64 where the type or version belongs is a PlacementError with JSON-safe details, not a TypeError', () => {
    const u64 = [0xcf, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff];
    for (const bytes of [
      Uint8Array.from([0x82, 0xa1, 0x76, 0x01, 0xa1, 0x74, ...u64]), // {v: 1, t: 2^64 - 1}
      Uint8Array.from([0x82, 0xa1, 0x76, ...u64, 0xa1, 0x74, 0xa1, 0x78]), // {v: 2^64 - 1, t: 'x'}
    ]) {
      assert.throws(
        () => decodePlacementMessage(bytes),
        (err: unknown) => err instanceof PlacementError && /18446744073709551615n/.test(err.message) && JSON.stringify(err.details).length > 0,
      );
    }
  });

  it(`never crashes on arbitrary bytes or mutated messages: only PlacementErrors (seed ${FC_SEED})`, () => {
    const encoded = SAMPLES.map((m) => encodePlacementMessage(m));
    fc.assert(
      fc.property(
        fc.oneof(
          fc.uint8Array({ maxLength: 300 }),
          fc.tuple(fc.integer({ min: 0, max: encoded.length - 1 }), fc.nat(), fc.integer({ min: 0, max: 255 })).map(([i, pos, byte]) => {
            const b = Uint8Array.from(encoded[i]!);
            b[pos % b.length] = byte;
            return b;
          }),
        ),
        (bytes) => {
          try {
            decodePlacementMessage(bytes);
          } catch (err) {
            assert.ok(err instanceof PlacementError, `decoding must only throw PlacementError, got ${String(err)}`);
            assert.match(err.code, /^PLACEMENT_/, 'error codes are domain-prefixed');
          }
        },
      ),
      fcParams(2000),
    );
  });
});
