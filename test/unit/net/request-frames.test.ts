import assert from 'node:assert/strict';
import fc from 'fast-check';
import { encodeFrame, FrameDecoder, FrameKind, MalformedFrameError, type DecodedFrame } from '../../../src/net/request-frames.ts';

/** fast-check seed: FC_SEED from the environment to replay a failure, else a fresh one. */
const SEED = process.env.FC_SEED !== undefined ? Number(process.env.FC_SEED) : Date.now() % 0x7fffffff;

interface Sent {
  kind: FrameKind;
  id: number;
  body: Uint8Array;
}

/** Splits `bytes` at the given cut points (any order, any duplicates). */
function cut(bytes: Uint8Array, at: number[]): Uint8Array[] {
  const points = [...new Set(at.map((p) => p % (bytes.length + 1)))].sort((a, b) => a - b);
  const out: Uint8Array[] = [];
  let from = 0;
  for (const p of points) {
    out.push(bytes.subarray(from, p));
    from = p;
  }
  out.push(bytes.subarray(from));
  return out;
}

function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

function decodeAll(decoder: FrameDecoder, chunks: Uint8Array[]): DecodedFrame[] {
  const out: DecodedFrame[] = [];
  for (const c of chunks) for (const f of decoder.push(c)) out.push(f);
  return out;
}

const frameArb = fc.record({
  kind: fc.constantFrom(FrameKind.request, FrameKind.ok, FrameKind.error, FrameKind.cancel, FrameKind.message),
  id: fc.oneof(fc.nat(300), fc.constant(0xffff_ffff), fc.nat()),
  body: fc.uint8Array({ maxLength: 200 }),
});

describe(`request channel frames (seed ${SEED}; FC_SEED=… to replay)`, () => {
  it('decodes any sequence of frames, however the bytes are split, and skips oversized bodies without losing step', () => {
    const max = 100;
    fc.assert(
      fc.property(fc.array(frameArb, { maxLength: 20 }), fc.array(fc.nat(), { maxLength: 30 }), (frames: Sent[], cuts) => {
        const decoder = new FrameDecoder(max);
        const got = decodeAll(decoder, cut(concat(frames.map((f) => encodeFrame(f.kind, f.id, f.body))), cuts));
        assert.equal(got.length, frames.length, 'one decoded frame per frame sent');
        frames.forEach((f, i) => {
          const g = got[i]!;
          assert.equal(g.kind, f.kind, `kind of frame ${i}`);
          assert.equal(g.id, f.id, `id of frame ${i}`);
          if (f.body.length > max) {
            assert.equal(g.oversized, f.body.length, `frame ${i} is reported oversized with its length`);
          } else {
            assert.deepEqual(g.body, f.body, `body of frame ${i}`);
          }
        });
        assert.equal(decoder.buffered, 0, 'nothing held back after whole frames');
      }),
      { seed: SEED, numRuns: 300 },
    );
  });

  it('reports an oversized body as soon as its header arrives, before its bytes', () => {
    const decoder = new FrameDecoder(10);
    const frame = encodeFrame(FrameKind.request, 7, new Uint8Array(1000).fill(1));
    const first = [...decoder.push(frame.subarray(0, 5))];
    assert.deepEqual(first, [{ kind: FrameKind.request, id: 7, oversized: 1000 }]);
    assert.equal(decoder.buffered, 0, 'skipped bytes are not buffered');
    assert.deepEqual([...decoder.push(frame.subarray(5))], [], 'the rest of the body is skipped');
    const next = [...decoder.push(encodeFrame(FrameKind.request, 8, Uint8Array.of(9)))];
    assert.deepEqual(next.map((f) => [f.id, f.body]), [[8, Uint8Array.of(9)]], 'the next frame decodes');
  });

  it('refuses bytes that are not frames: an unknown kind, a varint above 2^32 or longer than 5 bytes', () => {
    assert.throws(() => [...new FrameDecoder(10).push(Uint8Array.of(5, 0, 0))], MalformedFrameError, 'kind 5');
    assert.throws(() => [...new FrameDecoder(10).push(Uint8Array.of(0, 0xff, 0xff, 0xff, 0xff, 0x7f))], /above 2\^32/, 'id 2^35 - 1');
    assert.throws(() => [...new FrameDecoder(10).push(Uint8Array.of(0, 0x80, 0x80, 0x80, 0x80, 0x80, 0x01))], /longer than 5 bytes/, 'six-byte varint');
    assert.throws(() => encodeFrame(FrameKind.request, 2 ** 32, new Uint8Array(0)), RangeError, 'ids are u32');
  });
});
