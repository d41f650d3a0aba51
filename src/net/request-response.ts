import type { Connection, PeerId, Stream } from '@libp2p/interface';
import * as lp from 'it-length-prefixed';
import { pipe } from 'it-pipe';
import { ShoalError } from '../core/errors.ts';
import type { PeerIdStr, RequestHandler, RequestOptions } from '../core/transport.ts';
import { NetError, NetErrorCode } from './errors.ts';
import type { NetMetrics } from './metrics.ts';
import type { RequestLimits } from './options.ts';
import type { NetLogger } from './logger.ts';

/**
 * One request, one response, one stream. Each side writes exactly one length-prefixed frame
 * (it-length-prefixed varint + bytes). The payload is already bytes, so there is no codec
 * here. A response frame starts with a status byte:
 *   0 → the rest is the handler's answer;
 *   1 → the rest is UTF-8 JSON `{ code, message }` describing the remote failure.
 */

const STATUS_OK = 0;
const STATUS_ERROR = 1;
/** Remote error text is for logs; cap it so an error frame is never large. */
const MAX_ERROR_MESSAGE_CHARS = 200;

export interface StreamOpener {
  dialProtocol(peer: PeerId, protocol: string, options: { signal: AbortSignal }): Promise<Stream>;
  handle(protocol: string, handler: (stream: Stream, connection: Connection) => void | Promise<void>, options: { maxInboundStreams: number; maxOutboundStreams: number }): Promise<void>;
}

type Frame = ReturnType<typeof lp.encode.single>;

/** Status byte then body, in one buffer: one copy, but frames are bounded by maxFrameBytes. */
function statusFrame(status: number, body: Uint8Array): Frame {
  const buf = new Uint8Array(1 + body.length);
  buf[0] = status;
  buf.set(body, 1);
  return lp.encode.single(buf);
}

/** Reads exactly one frame; `undefined` if the stream ended first. */
async function readOneFrame(stream: Stream, maxDataLength: number): Promise<Frame | undefined> {
  return pipe(
    stream,
    (source) => lp.decode(source, { maxDataLength }),
    async (frames) => {
      for await (const frame of frames) return frame;
      return undefined;
    },
  );
}

function isTooLarge(err: unknown): boolean {
  return err instanceof Error && (err.name === 'InvalidDataLengthError' || err.name === 'InvalidDataLengthLengthError');
}

function errorFrame(code: string, message: string): Frame {
  return statusFrame(STATUS_ERROR, new TextEncoder().encode(JSON.stringify({ code, message: message.slice(0, MAX_ERROR_MESSAGE_CHARS) })));
}

function parseRemoteError(body: Uint8Array): { code: string; message: string } {
  try {
    const v = JSON.parse(new TextDecoder().decode(body)) as { code?: unknown; message?: unknown };
    return {
      code: typeof v.code === 'string' ? v.code.slice(0, 64) : 'UNKNOWN',
      message: typeof v.message === 'string' ? v.message.slice(0, MAX_ERROR_MESSAGE_CHARS) : '',
    };
  } catch {
    return { code: 'UNKNOWN', message: 'unparseable remote error' };
  }
}

export class StreamRequestResponse {
  readonly #opener: StreamOpener;
  readonly #limits: RequestLimits;
  readonly #metrics: NetMetrics | null;
  readonly #log: NetLogger | null;
  readonly #handlers = new Map<string, RequestHandler>();

  constructor(opts: RequestLimits, modules: { opener: StreamOpener; metrics: NetMetrics | null; logger: NetLogger | null }) {
    this.#limits = opts;
    this.#opener = modules.opener;
    this.#metrics = modules.metrics;
    this.#log = modules.logger;
  }

  get protocols(): string[] {
    return [...this.#handlers.keys()];
  }

  async request(peer: PeerId, protocol: string, data: Uint8Array, opts: RequestOptions): Promise<Uint8Array> {
    try {
      const res = await this.#request(peer, protocol, data, opts);
      this.#metrics?.requestSent(protocol, 'ok', data.length, res.length);
      return res;
    } catch (err) {
      const code = err instanceof ShoalError ? err.code : 'NET_STREAM_FAILED';
      this.#metrics?.requestSent(protocol, code, 0, 0);
      throw err;
    }
  }

  async #request(peer: PeerId, protocol: string, data: Uint8Array, opts: RequestOptions): Promise<Uint8Array> {
    const max = this.#limits.maxFrameBytes;
    const details = { peer: peer.toString(), protocol };
    if (data.length > max) {
      throw new NetError(NetErrorCode.frameTooLarge, `request of ${data.length} bytes exceeds maxFrameBytes ${max}`, { ...details, bytes: data.length, maxFrameBytes: max });
    }
    if (!(opts.timeoutMs > 0)) {
      throw new NetError(NetErrorCode.invalidOptions, `request timeoutMs must be > 0, got ${opts.timeoutMs}`, details);
    }
    if (opts.signal?.aborted === true) throw new NetError(NetErrorCode.aborted, `request ${protocol} aborted by caller`, details);
    const timeout = AbortSignal.timeout(opts.timeoutMs);
    const signal = opts.signal === undefined ? timeout : AbortSignal.any([timeout, opts.signal]);
    const failure = (err: unknown, stage: 'dial' | 'exchange'): NetError => {
      if (err instanceof NetError) return err;
      if (opts.signal?.aborted === true) return new NetError(NetErrorCode.aborted, `request ${protocol} aborted by caller`, details, { cause: err });
      if (timeout.aborted) return new NetError(NetErrorCode.timeout, `request ${protocol} timed out after ${opts.timeoutMs} ms`, { ...details, timeoutMs: opts.timeoutMs, stage }, { cause: err });
      const name = err instanceof Error ? err.name : '';
      if (name === 'UnsupportedProtocolError') return new NetError(NetErrorCode.noHandler, `peer does not serve ${protocol}`, details, { cause: err });
      if (stage === 'dial') return new NetError(NetErrorCode.unreachable, `cannot reach peer for ${protocol}: ${(err as Error)?.message ?? err}`, { ...details, reason: name }, { cause: err });
      if (isTooLarge(err)) return new NetError(NetErrorCode.frameTooLarge, `response exceeds maxFrameBytes ${max}`, { ...details, maxFrameBytes: max }, { cause: err });
      return new NetError(NetErrorCode.streamFailed, `request ${protocol} stream failed: ${(err as Error)?.message ?? err}`, { ...details, reason: name }, { cause: err });
    };

    let stream: Stream;
    try {
      stream = await this.#opener.dialProtocol(peer, protocol, { signal });
    } catch (err) {
      throw failure(err, 'dial');
    }
    const onAbort = (): void => stream.abort(new Error('request aborted'));
    signal.addEventListener('abort', onAbort, { once: true });
    try {
      if (signal.aborted) throw signal.reason;
      stream.send(lp.encode.single(data));
      // +1: the status byte.
      const frame = await readOneFrame(stream, max + 1);
      if (frame === undefined || frame.byteLength === 0) {
        throw new NetError(NetErrorCode.streamFailed, `peer closed the ${protocol} stream without answering`, details);
      }
      const status = frame.get(0);
      const body = frame.subarray(1);
      if (status === STATUS_OK) return body;
      if (status === STATUS_ERROR) {
        const remote = parseRemoteError(body);
        if (remote.code === NetErrorCode.frameTooLarge) {
          throw new NetError(NetErrorCode.frameTooLarge, `peer refused an oversized frame: ${remote.message}`, { ...details, remote: true });
        }
        throw new NetError(NetErrorCode.remoteError, `peer's ${protocol} handler failed: ${remote.code}: ${remote.message}`, { ...details, remoteCode: remote.code });
      }
      throw new NetError(NetErrorCode.streamFailed, `unknown response status ${status}`, details);
    } catch (err) {
      stream.abort(err instanceof Error ? err : new Error(String(err)));
      throw failure(err, 'exchange');
    } finally {
      signal.removeEventListener('abort', onAbort);
      if (stream.status === 'open') await stream.close().catch(() => undefined);
    }
  }

  /** Registers `handler`; `register` decides when libp2p learns of it (before or after start). */
  addHandler(protocol: string, handler: RequestHandler): void {
    if (this.#handlers.has(protocol)) {
      throw new NetError(NetErrorCode.duplicateHandler, `a handler for ${protocol} is already registered`, { protocol });
    }
    this.#handlers.set(protocol, handler);
  }

  /** Tells libp2p about `protocol` (after start). */
  async register(protocol: string): Promise<void> {
    const handler = this.#handlers.get(protocol);
    if (handler === undefined) return;
    await this.#opener.handle(protocol, (stream, connection) => this.#serve(protocol, handler, stream, connection.remotePeer.toString()), {
      maxInboundStreams: this.#limits.maxInboundStreams,
      maxOutboundStreams: this.#limits.maxOutboundStreams,
    });
  }

  async #serve(protocol: string, handler: RequestHandler, stream: Stream, from: PeerIdStr): Promise<void> {
    const max = this.#limits.maxFrameBytes;
    const ctl = new AbortController();
    const timer = setTimeout(() => ctl.abort(new NetError(NetErrorCode.timeout, `handler for ${protocol} exceeded ${this.#limits.handlerTimeoutMs} ms`)), this.#limits.handlerTimeoutMs);
    const onClose = (): void => ctl.abort(new NetError(NetErrorCode.streamFailed, 'requester closed the stream'));
    stream.addEventListener('close', onClose, { once: true });
    ctl.signal.addEventListener('abort', () => stream.abort(ctl.signal.reason as Error), { once: true });
    let bytesIn = 0;
    let bytesOut = 0;
    let outcome = 'ok';
    try {
      let frame: Frame | undefined;
      try {
        frame = await readOneFrame(stream, max);
      } catch (err) {
        if (isTooLarge(err)) {
          outcome = NetErrorCode.frameTooLarge;
          const out = errorFrame(NetErrorCode.frameTooLarge, `request exceeds maxFrameBytes ${max}`);
          bytesOut = out.byteLength;
          stream.send(out);
          return;
        }
        throw err;
      }
      if (frame === undefined) {
        outcome = NetErrorCode.streamFailed;
        return;
      }
      bytesIn = frame.byteLength;
      let answer: Uint8Array;
      try {
        answer = await handler(from, frame.subarray(), ctl.signal);
      } catch (err) {
        if (ctl.signal.aborted) throw err;
        const code = err instanceof ShoalError ? err.code : 'HANDLER_FAILED';
        outcome = NetErrorCode.remoteError;
        const out = errorFrame(code, err instanceof Error ? err.message : String(err));
        bytesOut = out.byteLength;
        stream.send(out);
        return;
      }
      if (answer.length > max) {
        outcome = NetErrorCode.frameTooLarge;
        this.#log?.warn({ protocol, bytes: answer.length, maxFrameBytes: max }, 'request handler answered more than maxFrameBytes; sent an error instead');
        const out = errorFrame(NetErrorCode.frameTooLarge, `response of ${answer.length} bytes exceeds maxFrameBytes ${max}`);
        bytesOut = out.byteLength;
        stream.send(out);
        return;
      }
      const out = statusFrame(STATUS_OK, answer);
      bytesOut = out.byteLength;
      stream.send(out);
    } catch (err) {
      outcome = err instanceof ShoalError ? err.code : NetErrorCode.streamFailed;
      stream.abort(err instanceof Error ? err : new Error(String(err)));
    } finally {
      clearTimeout(timer);
      stream.removeEventListener('close', onClose);
      if (stream.status === 'open') await stream.close().catch(() => undefined);
      this.#metrics?.requestServed(protocol, outcome, bytesIn, bytesOut);
    }
  }
}
