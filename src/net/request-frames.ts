import { Uint8ArrayList } from 'uint8arraylist';

/**
 * Frames of the request channel: many requests and their answers share one long-lived stream
 * per peer and protocol, so a request costs two frames instead of a stream's open,
 * protocol negotiation, window updates and closes on both sides.
 *
 *   kind (1 byte) · id (varint, < 2^32) · body length (varint, < 2^32) · body
 *
 * The id comes before the length so that a reader can refuse an oversized body by id,
 * skip its bytes, and keep the stream in step.
 */

export const FrameKind = {
  /** Requester → server: a request with a fresh id. */
  request: 0,
  /** Server → requester: the handler's answer. */
  ok: 1,
  /** Server → requester: UTF-8 JSON `{ code, message }` describing the failure. */
  error: 2,
  /** Requester → server: the requester gave up on `id` (timeout or abort); the body is empty. */
  cancel: 3,
  /** Sender → server: a one-way message; the handler runs and its answer is dropped (the id is 0). */
  message: 4,
} as const;
export type FrameKind = (typeof FrameKind)[keyof typeof FrameKind];

const MAX_KIND = FrameKind.message;
/** A u32 takes at most 5 LEB128 bytes. */
const MAX_VARINT_BYTES = 5;
const MAX_U32 = 0xffff_ffff;

export type DecodedFrame =
  | { kind: FrameKind; id: number; body: Uint8Array; oversized?: undefined }
  /** The body was longer than the reader allows; its bytes are being skipped. */
  | { kind: FrameKind; id: number; body?: undefined; oversized: number };

/** The stream does not carry frames: the reader cannot find the next frame, so the stream must end. */
export class MalformedFrameError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'MalformedFrameError';
  }
}

function varintLength(n: number): number {
  let len = 1;
  while (n >= 0x80) {
    n = Math.floor(n / 128);
    len++;
  }
  return len;
}

function writeVarint(buf: Uint8Array, at: number, n: number): number {
  while (n >= 0x80) {
    buf[at++] = (n % 128) | 0x80;
    n = Math.floor(n / 128);
  }
  buf[at++] = n;
  return at;
}

/** One frame in one buffer (header and body copied together: one write, one encryption). */
export function encodeFrame(kind: FrameKind, id: number, body: Uint8Array): Uint8Array {
  if (!Number.isInteger(id) || id < 0 || id > MAX_U32) throw new RangeError(`frame id out of range: ${id}`);
  const buf = new Uint8Array(1 + varintLength(id) + varintLength(body.length) + body.length);
  buf[0] = kind;
  let at = writeVarint(buf, 1, id);
  at = writeVarint(buf, at, body.length);
  buf.set(body, at);
  return buf;
}

/**
 * Turns a byte stream into frames. Bodies above `maxBody` are reported as `oversized` as soon
 * as their header is read, then skipped as their bytes arrive, never buffered.
 */
export class FrameDecoder {
  readonly #maxBody: number;
  readonly #buf = new Uint8ArrayList();
  #skip = 0;

  constructor(maxBody: number) {
    this.#maxBody = maxBody;
  }

  /** Bytes held back for an incomplete frame. */
  get buffered(): number {
    return this.#buf.byteLength;
  }

  *push(chunk: Uint8Array | Uint8ArrayList): Generator<DecodedFrame> {
    this.#buf.append(chunk);
    for (;;) {
      if (this.#skip > 0) {
        const n = Math.min(this.#skip, this.#buf.byteLength);
        this.#buf.consume(n);
        this.#skip -= n;
        if (this.#skip > 0) return;
      }
      const frame = this.#next();
      if (frame === null) return;
      yield frame;
    }
  }

  #next(): DecodedFrame | null {
    const buf = this.#buf;
    if (buf.byteLength === 0) return null;
    const kind = buf.get(0);
    if (kind > MAX_KIND) throw new MalformedFrameError(`unknown frame kind ${kind}`);
    const id = this.#varint(1);
    if (id === null) return null;
    const len = this.#varint(1 + id.bytes);
    if (len === null) return null;
    const header = 1 + id.bytes + len.bytes;
    if (len.value > this.#maxBody) {
      buf.consume(header);
      this.#skip = len.value;
      return { kind: kind as FrameKind, id: id.value, oversized: len.value };
    }
    if (buf.byteLength < header + len.value) return null;
    const body = buf.subarray(header, header + len.value);
    buf.consume(header + len.value);
    return { kind: kind as FrameKind, id: id.value, body };
  }

  /** A u32 varint at `at`, or null if its bytes have not all arrived. */
  #varint(at: number): { value: number; bytes: number } | null {
    const buf = this.#buf;
    let value = 0;
    let scale = 1;
    for (let i = 0; i < MAX_VARINT_BYTES; i++) {
      if (at + i >= buf.byteLength) return null;
      const b = buf.get(at + i);
      value += (b & 0x7f) * scale;
      if ((b & 0x80) === 0) {
        if (value > MAX_U32) throw new MalformedFrameError(`frame varint above 2^32: ${value}`);
        return { value, bytes: i + 1 };
      }
      scale *= 128;
    }
    throw new MalformedFrameError(`frame varint longer than ${MAX_VARINT_BYTES} bytes`);
  }
}
