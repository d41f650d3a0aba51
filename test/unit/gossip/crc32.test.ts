import assert from 'node:assert/strict';
import { crc32 as zlibCrc32 } from 'node:zlib';
import fc from 'fast-check';
import { crc32 } from '../../../src/gossip/crc32.ts';

const SEED = Number(process.env.FUZZ_SEED ?? Date.now() % 2 ** 31);

// crc32 takes a table loop for short ranges and zlib for long ones: both must be zlib's CRC.
describe(`crc32 (seed ${SEED}; FUZZ_SEED=… to replay)`, () => {
  it('equals zlib on every range length from 0 to 100 bytes, at any offset', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 0, maxLength: 140 }), fc.nat(), fc.nat(), (bytes, a, b) => {
        const start = bytes.length === 0 ? 0 : a % (bytes.length + 1);
        const end = start + (b % Math.min(101, bytes.length - start + 1));
        assert.equal(crc32(bytes, start, end), zlibCrc32(bytes.subarray(start, end)) >>> 0, `range ${start}..${end} of ${bytes.length}`);
      }),
      { seed: SEED, numRuns: 2000 },
    );
  });

  it('gives the IEEE check value for "123456789" and covers the whole array by default', () => {
    const check = new TextEncoder().encode('123456789');
    assert.equal(crc32(check), 0xcbf43926);
    assert.equal(crc32(new Uint8Array(0)), 0);
  });
});
