import { LengthPrefixedDecoder } from '@libp2p/utils';
import type { Uint8ArrayList } from 'uint8arraylist';

/**
 * `LengthPrefixedDecoder` (@libp2p/utils 7, used by noise for every encrypted frame) learns
 * that its buffer holds no further frame by calling the length decoder and catching the
 * RangeError it throws. Every socket read ends that way, because a read usually carries
 * whole frames and leaves the buffer empty. So each read paid for an Error and its stack
 * trace: 5% of an idle agent's CPU in a profile of 16 agents.
 *
 * This wraps each decoder's length function once, on its first `decode`: on an empty buffer
 * it answers the largest allowed length, which the library's own loop reads as "not enough
 * data yet" and stops, as it does after the exception. Anything else (a partial length
 * prefix, a bad length) still goes through the library's code unchanged.
 *
 * Installed once, from `createLibp2pNode`. A library upgrade that drops `decode` fails here;
 * one that renames the fields makes the patch a no-op (the decoder keeps working), which the
 * unit test that counts RangeErrors catches.
 */

interface DecoderFields {
  maxDataLength: number;
  lengthDecoder: (data: Uint8ArrayList | Uint8Array) => number;
  decode(buf: Uint8ArrayList | Uint8Array): Generator<Uint8ArrayList>;
}

const wrapped = Symbol('shoal.emptyBufferGuard');
let installed = false;

export function installQuietLengthPrefixDecoder(): void {
  if (installed) return;
  const proto = LengthPrefixedDecoder.prototype as unknown as DecoderFields;
  const original = proto.decode;
  if (typeof original !== 'function') throw new Error('@libp2p/utils changed: LengthPrefixedDecoder.decode is gone');
  proto.decode = function (this: DecoderFields & { [wrapped]?: true }, buf) {
    if (this[wrapped] !== true && typeof this.lengthDecoder === 'function' && typeof this.maxDataLength === 'number') {
      const decodeLength = this.lengthDecoder;
      const guarded = (data: Uint8ArrayList | Uint8Array): number => (data.byteLength === 0 ? this.maxDataLength : decodeLength(data));
      this.lengthDecoder = Object.assign(guarded, decodeLength);
      this[wrapped] = true;
    }
    return original.call(this, buf);
  };
  installed = true;
}
