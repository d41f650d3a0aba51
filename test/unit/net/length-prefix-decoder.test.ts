import assert from 'node:assert/strict';
import { LengthPrefixedDecoder } from '@libp2p/utils';
import { Uint8ArrayList } from 'uint8arraylist';
import { installQuietLengthPrefixDecoder } from '../../../src/net/length-prefix-decoder.ts';

/** A two-byte big-endian length decoder like noise's, counting the RangeErrors it throws. */
function countingDecoder(): { decoder: LengthPrefixedDecoder; throws: () => number } {
  let throws = 0;
  const lengthDecoder = (data: Uint8ArrayList | Uint8Array): number => {
    if (data.byteLength < 2) {
      throws++;
      throw new RangeError('Could not decode int16BE');
    }
    return data instanceof Uint8Array ? (data[0]! << 8) | data[1]! : data.getUint16(0);
  };
  return { decoder: new LengthPrefixedDecoder({ lengthDecoder, encodingLength: () => 2 }), throws: () => throws };
}

function frame(body: number[]): number[] {
  return [body.length >> 8, body.length & 0xff, ...body];
}

const bodies = (out: Iterable<Uint8ArrayList>): number[][] => [...out].map((b) => [...b.subarray()]);

describe('net: LengthPrefixedDecoder without an exception per read', () => {
  before(() => installQuietLengthPrefixDecoder());

  it('decodes whole frames and stops on the empty buffer without a RangeError', () => {
    const { decoder, throws } = countingDecoder();
    assert.deepEqual(bodies(decoder.decode(Uint8Array.from([...frame([1, 2, 3]), ...frame([4])]))), [[1, 2, 3], [4]]);
    assert.deepEqual(bodies(decoder.decode(Uint8Array.from(frame([5, 6])))), [[5, 6]]);
    assert.equal(throws(), 0, 'an emptied buffer must not cost an exception');
  });

  it('still waits on a partial length prefix and a partial body, through the library path', () => {
    const { decoder, throws } = countingDecoder();
    assert.deepEqual(bodies(decoder.decode(Uint8Array.of(0))), []);
    assert.equal(throws(), 1, 'one byte of a two-byte prefix goes to the real length decoder');
    assert.deepEqual(bodies(decoder.decode(Uint8Array.of(3, 7, 8))), []);
    assert.deepEqual(bodies(decoder.decode(Uint8Array.of(9, ...frame([10])))), [[7, 8, 9], [10]]);
  });

  it('still refuses a length over its limit', () => {
    const d = new LengthPrefixedDecoder({ lengthDecoder: () => 100, encodingLength: () => 2, maxDataLength: 10 });
    assert.throws(() => [...d.decode(Uint8Array.of(0, 100))], /Invalid message length/);
  });
});
