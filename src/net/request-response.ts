import type { Connection, PeerId, Stream } from '@libp2p/interface';
import { pipe } from 'it-pipe';
import { ShoalError } from '../core/errors.ts';
import type { PeerIdStr, RequestHandler, RequestOptions } from '../core/transport.ts';
import { NetError, NetErrorCode } from './errors.ts';
import type { NetMetrics } from './metrics.ts';
import type { RequestLimits } from './options.ts';
import type { NetLogger } from './logger.ts';
import { OutboundChannel } from './request-channel.ts';
import { encodeFrame, FrameDecoder, FrameKind } from './request-frames.ts';

/**
 * Requests and responses over libp2p, on request channels (`request-frames.ts`): the first
 * request to a peer for a protocol opens a stream, and later ones reuse it, each under its
 * own id, answered in any order. A new stream per request cost a protocol negotiation
 * round trip, a peer-store write and six more frames on both sides: most of an idle
 * agent's packets, when every direct message (ping, ack, sync) is a request.
 *
 * An answer is the handler's bytes (`ok`) or UTF-8 JSON `{ code, message }` (`error`).
 * A requester that gives up sends `cancel`, which aborts the handler's signal. A one-way
 * `message` (`send`) runs the handler too, and gets no answer: the protocol core's direct
 * messages (ping, ack, sync) need none, as SWIM over UDP needs none.
 *
 * Every Shoal request protocol went from 1.0.0 to 2.0.0 with this framing: an agent still on
 * a stream per request fails to negotiate (NET_NO_HANDLER) instead of misreading frames.
 */

/** Remote error text is for logs; cap it so an error frame is never large. */
const MAX_ERROR_MESSAGE_CHARS = 200;

export interface StreamOpener {
  dialProtocol(peer: PeerId, protocol: string, options: { signal: AbortSignal }): Promise<Stream>;
  handle(protocol: string, handler: (stream: Stream, connection: Connection) => void | Promise<void>, options: { maxInboundStreams: number; maxOutboundStreams: number }): Promise<void>;
}

function errorBody(code: string, message: string): Uint8Array {
  return new TextEncoder().encode(JSON.stringify({ code, message: message.slice(0, MAX_ERROR_MESSAGE_CHARS) }));
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

/** Why opening a channel failed, in NET_ terms. */
function openFailure(err: unknown, protocol: string, timeoutMs: number, details: Record<string, unknown>): NetError {
  if (err instanceof NetError) return err;
  const name = err instanceof Error ? err.name : '';
  if (name === 'UnsupportedProtocolError') return new NetError(NetErrorCode.noHandler, `peer does not serve ${protocol}`, details, { cause: err });
  if (name === 'TimeoutError' || name === 'AbortError') return new NetError(NetErrorCode.timeout, `opening a ${protocol} channel took over ${timeoutMs} ms`, { ...details, timeoutMs, stage: 'dial' }, { cause: err });
  return new NetError(NetErrorCode.unreachable, `cannot reach peer for ${protocol}: ${(err as Error)?.message ?? err}`, { ...details, reason: name }, { cause: err });
}

/** Rejects with the signal's reason when it fires first. */
function untilAborted<T>(p: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) return Promise.reject(signal.reason);
  return new Promise<T>((resolve, reject) => {
    const onAbort = (): void => reject(signal.reason);
    signal.addEventListener('abort', onAbort, { once: true });
    p.then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort));
  });
}

export class StreamRequestResponse {
  readonly #opener: StreamOpener;
  readonly #limits: RequestLimits;
  readonly #metrics: NetMetrics | null;
  readonly #log: NetLogger | null;
  readonly #handlers = new Map<string, RequestHandler>();
  /** Open channels and channels being opened, by peer and protocol. */
  readonly #channels = new Map<string, OutboundChannel | Promise<OutboundChannel>>();

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
      this.#metrics?.requestSent(protocol, 'request', 'ok', data.length, res.length);
      return res;
    } catch (err) {
      const code = err instanceof ShoalError ? err.code : 'NET_STREAM_FAILED';
      this.#metrics?.requestSent(protocol, 'request', code, 0, 0);
      throw err;
    }
  }

  async #request(peer: PeerId, protocol: string, data: Uint8Array, opts: RequestOptions): Promise<Uint8Array> {
    const details = { peer: peer.toString(), protocol };
    this.#checkOutgoing('request', data, opts.timeoutMs, details);
    if (opts.signal?.aborted === true) throw new NetError(NetErrorCode.aborted, `request ${protocol} aborted by caller`, details);
    const timeout = AbortSignal.timeout(opts.timeoutMs);
    const signal = opts.signal === undefined ? timeout : AbortSignal.any([timeout, opts.signal]);
    const failure = (err: unknown, stage: 'dial' | 'exchange'): NetError => {
      if (opts.signal?.aborted === true) return new NetError(NetErrorCode.aborted, `request ${protocol} aborted by caller`, details, { cause: err });
      if (timeout.aborted) return new NetError(NetErrorCode.timeout, `request ${protocol} timed out after ${opts.timeoutMs} ms`, { ...details, timeoutMs: opts.timeoutMs, stage }, { cause: err });
      if (stage === 'dial') return openFailure(err, protocol, opts.timeoutMs, details);
      if (err instanceof NetError) return err.code === NetErrorCode.streamFailed ? new NetError(err.code, `request ${protocol}: ${err.message}`, { ...details, ...err.details }, { cause: err }) : err;
      const name = err instanceof Error ? err.name : '';
      return new NetError(NetErrorCode.streamFailed, `request ${protocol} stream failed: ${(err as Error)?.message ?? err}`, { ...details, reason: name }, { cause: err });
    };

    let channel: OutboundChannel;
    try {
      channel = await untilAborted(this.#channel(peer, protocol, opts.timeoutMs), signal);
    } catch (err) {
      throw failure(err, 'dial');
    }
    if (channel.inFlight >= this.#limits.maxOutboundStreams) {
      throw new NetError(NetErrorCode.streamFailed, `${channel.inFlight} requests for ${protocol} already in flight to this peer (maxOutboundStreams)`, details);
    }
    let answer;
    try {
      answer = await channel.request(data, signal);
    } catch (err) {
      throw failure(err, 'exchange');
    }
    if (answer.kind === FrameKind.ok) return answer.body;
    const remote = parseRemoteError(answer.body);
    if (remote.code === NetErrorCode.frameTooLarge) {
      throw new NetError(NetErrorCode.frameTooLarge, `peer refused an oversized frame: ${remote.message}`, { ...details, remote: true });
    }
    throw new NetError(NetErrorCode.remoteError, `peer's ${protocol} handler failed: ${remote.code}: ${remote.message}`, { ...details, remoteCode: remote.code });
  }

  /**
   * A one-way message on the channel: resolves once it is handed to the stream, without an
   * answer (the handler's is dropped), as a datagram would; `timeoutMs` bounds opening the channel.
   */
  async send(peer: PeerId, protocol: string, data: Uint8Array, opts: { timeoutMs: number }): Promise<void> {
    try {
      await this.#send(peer, protocol, data, opts);
      this.#metrics?.requestSent(protocol, 'message', 'ok', data.length, 0);
    } catch (err) {
      this.#metrics?.requestSent(protocol, 'message', err instanceof ShoalError ? err.code : 'NET_STREAM_FAILED', 0, 0);
      throw err;
    }
  }

  async #send(peer: PeerId, protocol: string, data: Uint8Array, opts: { timeoutMs: number }): Promise<void> {
    const details = { peer: peer.toString(), protocol };
    this.#checkOutgoing('message', data, opts.timeoutMs, details);
    // A channel that closed under us is reopened once; a second failure is the peer's.
    for (let attempt = 0; attempt < 2; attempt++) {
      let channel: OutboundChannel;
      try {
        channel = await this.#channel(peer, protocol, opts.timeoutMs);
      } catch (err) {
        throw openFailure(err, protocol, opts.timeoutMs, details);
      }
      if (channel.post(data)) return;
    }
    throw new NetError(NetErrorCode.streamFailed, `${protocol} channel closed before the message was sent`, details);
  }

  /** What a request and a one-way message both must be before anything is sent. */
  #checkOutgoing(what: 'request' | 'message', data: Uint8Array, timeoutMs: number, details: Record<string, unknown>): void {
    const max = this.#limits.maxFrameBytes;
    if (data.length > max) {
      throw new NetError(NetErrorCode.frameTooLarge, `${what} of ${data.length} bytes exceeds maxFrameBytes ${max}`, { ...details, bytes: data.length, maxFrameBytes: max });
    }
    if (!(timeoutMs > 0)) throw new NetError(NetErrorCode.invalidOptions, `${what} timeoutMs must be > 0, got ${timeoutMs}`, details);
  }

  /** The open channel to `peer` for `protocol`, opening one (shared by concurrent callers) if needed. */
  #channel(peer: PeerId, protocol: string, timeoutMs: number): Promise<OutboundChannel> {
    const key = `${peer.toString()} ${protocol}`;
    const known = this.#channels.get(key);
    if (known instanceof OutboundChannel) {
      if (known.open) return Promise.resolve(known);
      this.#channels.delete(key);
    } else if (known !== undefined) {
      return known;
    }
    const opening = this.#opener.dialProtocol(peer, protocol, { signal: AbortSignal.timeout(timeoutMs) }).then(
      (stream) => {
        const channel = new OutboundChannel(stream, this.#limits.maxFrameBytes, (closed) => {
          if (this.#channels.get(key) === closed) this.#channels.delete(key);
        });
        this.#channels.set(key, channel);
        return channel;
      },
      (err: unknown) => {
        this.#channels.delete(key);
        throw err;
      },
    );
    this.#channels.set(key, opening);
    return opening;
  }

  /** Ends every channel this side opened (transport stop). */
  closeChannels(): void {
    for (const c of this.#channels.values()) if (c instanceof OutboundChannel) c.close();
    this.#channels.clear();
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

  /** Serves one inbound channel until it ends; its requests run concurrently, each with its own signal. */
  async #serve(protocol: string, handler: RequestHandler, stream: Stream, from: PeerIdStr): Promise<void> {
    const max = this.#limits.maxFrameBytes;
    const running = new Map<number, AbortController>();
    /** Handlers of one-way messages still running (no id: only the channel's end stops them). */
    const oneWay = new Set<AbortController>();
    const decoder = new FrameDecoder(max);
    const send = (kind: FrameKind, id: number, body: Uint8Array): number => {
      if (stream.status !== 'open' || stream.writeStatus !== 'writable') return 0;
      const frame = encodeFrame(kind, id, body);
      stream.send(frame);
      return frame.byteLength;
    };
    const refuse = (id: number, code: string, message: string, bytesIn: number): void => {
      const bytesOut = send(FrameKind.error, id, errorBody(code, message));
      this.#metrics?.requestServed(protocol, 'request', code, bytesIn, bytesOut);
    };
    try {
      await pipe(stream, async (source) => {
        for await (const chunk of source) {
          for (const frame of decoder.push(chunk)) {
            if (frame.kind === FrameKind.cancel) {
              running.get(frame.id)?.abort(new NetError(NetErrorCode.aborted, 'the requester gave up'));
              continue;
            }
            if (frame.kind === FrameKind.message) {
              // One-way: nobody waits for an answer or an error, so only the metrics hear of a refusal.
              if (frame.oversized !== undefined) this.#metrics?.requestServed(protocol, 'message', NetErrorCode.frameTooLarge, 0, 0);
              else if (oneWay.size >= this.#limits.maxInboundStreams) this.#metrics?.requestServed(protocol, 'message', NetErrorCode.streamFailed, frame.body.length, 0);
              else void this.#answer(protocol, handler, from, null, frame.body, running, oneWay, send);
              continue;
            }
            if (frame.kind !== FrameKind.request) {
              throw new NetError(NetErrorCode.streamFailed, `requester sent a frame of kind ${frame.kind}`);
            }
            if (frame.oversized !== undefined) {
              refuse(frame.id, NetErrorCode.frameTooLarge, `request of ${frame.oversized} bytes exceeds maxFrameBytes ${max}`, 0);
            } else if (running.has(frame.id)) {
              throw new NetError(NetErrorCode.streamFailed, `request id ${frame.id} reused while in flight`);
            } else if (running.size >= this.#limits.maxInboundStreams) {
              refuse(frame.id, NetErrorCode.streamFailed, `${running.size} requests for ${protocol} already in flight from this peer (maxInboundStreams)`, frame.body.length);
            } else {
              void this.#answer(protocol, handler, from, frame.id, frame.body, running, oneWay, send);
            }
          }
        }
      });
    } catch (err) {
      this.#log?.debug({ protocol, peer: from, err: String(err) }, 'request channel failed');
      stream.abort(err instanceof Error ? err : new Error(String(err)));
    } finally {
      const closed = new NetError(NetErrorCode.streamFailed, 'requester closed the channel');
      for (const ctl of running.values()) ctl.abort(closed);
      for (const ctl of oneWay) ctl.abort(closed);
      if (stream.status === 'open') await stream.close().catch(() => undefined);
    }
  }

  /** Runs the handler for request `id`, and answers it; `id` null is a one-way message: nothing is sent back. */
  async #answer(
    protocol: string,
    handler: RequestHandler,
    from: PeerIdStr,
    id: number | null,
    body: Uint8Array,
    running: Map<number, AbortController>,
    oneWay: Set<AbortController>,
    sendFrame: (kind: FrameKind, id: number, body: Uint8Array) => number,
  ): Promise<void> {
    const max = this.#limits.maxFrameBytes;
    const ctl = new AbortController();
    if (id !== null) running.set(id, ctl);
    else oneWay.add(ctl);
    const send = (kind: FrameKind, answer: Uint8Array): number => (id === null ? 0 : sendFrame(kind, id, answer));
    const timer = setTimeout(() => ctl.abort(new NetError(NetErrorCode.timeout, `handler for ${protocol} exceeded ${this.#limits.handlerTimeoutMs} ms`)), this.#limits.handlerTimeoutMs);
    let outcome = 'ok';
    let bytesOut = 0;
    try {
      let answer: Uint8Array;
      try {
        answer = await handler(from, body, ctl.signal);
      } catch (err) {
        if (ctl.signal.aborted) {
          const reason: unknown = ctl.signal.reason;
          outcome = reason instanceof ShoalError ? reason.code : NetErrorCode.streamFailed;
          // A cancelled request needs no answer; a timed-out one gets its reason.
          if (outcome === NetErrorCode.timeout) bytesOut = send(FrameKind.error, errorBody(outcome, (reason as Error).message));
          return;
        }
        outcome = NetErrorCode.remoteError;
        const code = err instanceof ShoalError ? err.code : 'HANDLER_FAILED';
        bytesOut = send(FrameKind.error, errorBody(code, err instanceof Error ? err.message : String(err)));
        return;
      }
      if (ctl.signal.aborted) {
        outcome = ctl.signal.reason instanceof ShoalError ? ctl.signal.reason.code : NetErrorCode.streamFailed;
        return;
      }
      if (answer.length > max) {
        outcome = NetErrorCode.frameTooLarge;
        this.#log?.warn({ protocol, bytes: answer.length, maxFrameBytes: max }, 'request handler answered more than maxFrameBytes; sent an error instead');
        bytesOut = send(FrameKind.error, errorBody(NetErrorCode.frameTooLarge, `response of ${answer.length} bytes exceeds maxFrameBytes ${max}`));
        return;
      }
      bytesOut = send(FrameKind.ok, answer);
    } catch (err) {
      outcome = err instanceof ShoalError ? err.code : NetErrorCode.streamFailed;
    } finally {
      clearTimeout(timer);
      if (id !== null) running.delete(id);
      else oneWay.delete(ctl);
      this.#metrics?.requestServed(protocol, id === null ? 'message' : 'request', outcome, body.length, bytesOut);
    }
  }
}
