import type { Stream } from '@libp2p/interface';
import { pipe } from 'it-pipe';
import { NetError, NetErrorCode } from './errors.ts';
import { encodeFrame, FrameDecoder, FrameKind } from './request-frames.ts';

/** What came back for one request: the server's frame kind and body. */
export interface ChannelAnswer {
  kind: typeof FrameKind.ok | typeof FrameKind.error;
  body: Uint8Array;
}

interface Pending {
  resolve(answer: ChannelAnswer): void;
  reject(err: unknown): void;
}

const NO_BODY = new Uint8Array(0);
const MAX_ID = 0xffff_ffff;

/**
 * The requester's end of one channel: a stream it opened to a peer for one protocol, carrying
 * one-way messages and any number of requests at once, each under its own id. When the
 * stream ends, every request still waiting fails, and the owner opens a new channel.
 */
export class OutboundChannel {
  readonly #stream: Stream;
  readonly #decoder: FrameDecoder;
  readonly #pending = new Map<number, Pending>();
  readonly #onClosed: (channel: OutboundChannel) => void;
  #nextId = 0;
  #closed = false;

  /** `maxAnswerBytes` bounds an answer's body; `onClosed` runs once, when the stream is done. */
  constructor(stream: Stream, maxAnswerBytes: number, onClosed: (channel: OutboundChannel) => void) {
    this.#stream = stream;
    this.#decoder = new FrameDecoder(maxAnswerBytes);
    this.#onClosed = onClosed;
    void pipe(stream, async (source) => {
      for await (const chunk of source) {
        for (const frame of this.#decoder.push(chunk)) {
          if (frame.kind !== FrameKind.ok && frame.kind !== FrameKind.error) {
            throw new NetError(NetErrorCode.streamFailed, `peer answered with a frame of kind ${frame.kind}`);
          }
          const waiting = this.#pending.get(frame.id);
          // An answer to a request we gave up on: nobody is waiting.
          if (waiting === undefined) continue;
          this.#pending.delete(frame.id);
          if (frame.oversized !== undefined) {
            waiting.reject(new NetError(NetErrorCode.frameTooLarge, `response of ${frame.oversized} bytes exceeds maxFrameBytes ${maxAnswerBytes}`, { bytes: frame.oversized, maxFrameBytes: maxAnswerBytes }));
          } else {
            waiting.resolve({ kind: frame.kind, body: frame.body });
          }
        }
      }
    }).then(
      () => this.#close(new NetError(NetErrorCode.streamFailed, 'peer closed the request channel')),
      (err: unknown) => this.#close(err),
    );
  }

  /** False once the stream ended: the owner must open a new channel. */
  get open(): boolean {
    return !this.#closed && this.#stream.status === 'open' && this.#stream.writeStatus === 'writable';
  }

  get inFlight(): number {
    return this.#pending.size;
  }

  /** Sends `body` and waits for its answer; `signal` (timeout or caller) gives up on it alone. */
  request(body: Uint8Array, signal: AbortSignal): Promise<ChannelAnswer> {
    const id = this.#nextId;
    this.#nextId = id === MAX_ID ? 0 : id + 1;
    return new Promise<ChannelAnswer>((resolve, reject) => {
      const onAbort = (): void => {
        if (!this.#pending.delete(id)) return;
        // Tell the server, so its handler stops too; the channel stays up for the others.
        this.#send(encodeFrame(FrameKind.cancel, id, NO_BODY));
        reject(signal.reason);
      };
      this.#pending.set(id, {
        resolve: (a) => {
          signal.removeEventListener('abort', onAbort);
          resolve(a);
        },
        reject: (err) => {
          signal.removeEventListener('abort', onAbort);
          reject(err);
        },
      });
      signal.addEventListener('abort', onAbort, { once: true });
      if (!this.#send(encodeFrame(FrameKind.request, id, body))) {
        this.#pending.get(id)?.reject(new NetError(NetErrorCode.streamFailed, 'request channel closed before the request was sent'));
        this.#pending.delete(id);
      }
    });
  }

  /** Sends a one-way message; false if the channel is closed (the caller opens a new one). */
  post(body: Uint8Array): boolean {
    return this.#send(encodeFrame(FrameKind.message, 0, body));
  }

  /** Ends the channel (transport stop); requests still waiting fail. */
  close(): void {
    this.#stream.abort(new Error('request channel closed locally'));
    this.#close(new NetError(NetErrorCode.streamFailed, 'request channel closed locally'));
  }

  #send(frame: Uint8Array): boolean {
    if (!this.open) return false;
    try {
      this.#stream.send(frame);
      return true;
    } catch {
      return false;
    }
  }

  #close(err: unknown): void {
    if (this.#closed) return;
    this.#closed = true;
    if (this.#stream.status === 'open') this.#stream.abort(err instanceof Error ? err : new Error(String(err)));
    const failure = err instanceof NetError
      ? err
      : new NetError(NetErrorCode.streamFailed, `request channel failed: ${err instanceof Error ? err.message : String(err)}`, { reason: err instanceof Error ? err.name : '' }, { cause: err });
    for (const p of this.#pending.values()) p.reject(failure);
    this.#pending.clear();
    this.#onClosed(this);
  }
}
