import type { Clock, Millis, TimerHandle } from '../../../src/core/clock.ts';
import type { Encoded, Outbox, ProtocolNode } from '../../../src/core/protocol.ts';
import type { PeerEvent, PeerIdStr, RequestHandler, RequestOptions, TopicHandler, TopicMessage, Transport, Verdict } from '../../../src/core/transport.ts';

/** Virtual time for pure-logic tests: timers run only when the test advances the clock. */
export class ManualClock implements Clock {
  #now: Millis;
  #seq = 0;
  readonly #timers = new Map<number, { at: Millis; fn: () => void }>();

  constructor(startMs = 1_000_000) {
    this.#now = startMs;
  }

  now(): Millis {
    return this.#now;
  }

  schedule(delayMs: Millis, fn: () => void): TimerHandle {
    const id = this.#seq++;
    this.#timers.set(id, { at: this.#now + Math.max(0, delayMs), fn });
    return { cancel: () => this.#timers.delete(id) };
  }

  get pending(): number {
    return this.#timers.size;
  }

  /** Runs due timers in time order (ties in scheduling order), up to `now + ms`. */
  advance(ms: Millis): void {
    const end = this.#now + ms;
    for (;;) {
      let next: [number, { at: Millis; fn: () => void }] | null = null;
      for (const e of this.#timers) if (e[1].at <= end && (next === null || e[1].at < next[1].at)) next = e;
      if (next === null) break;
      this.#timers.delete(next[0]);
      this.#now = next[1].at;
      next[1].fn();
    }
    this.#now = end;
  }
}

interface Deferred<T> {
  promise: Promise<T>;
  resolve(v: T): void;
  reject(e: unknown): void;
}

function deferred<T>(): Deferred<T> {
  let resolve!: (v: T) => void;
  let reject!: (e: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

/** A Transport that records calls and lets the test settle requests and dials by hand. */
export class FakeTransport implements Transport {
  readonly self: PeerIdStr;
  readonly published: Array<{ topic: string; data: Uint8Array }> = [];
  readonly subscriptions = new Set<string>();
  readonly requests: Array<{ peer: PeerIdStr; protocol: string; data: Uint8Array; opts: RequestOptions; d: Deferred<Uint8Array> }> = [];
  readonly sends: Array<{ peer: PeerIdStr; protocol: string; data: Uint8Array; opts: { timeoutMs: number }; d: Deferred<void> }> = [];
  readonly dials: Array<{ peer: PeerIdStr; addrs: readonly string[]; d: Deferred<void> }> = [];
  readonly handlers = new Map<string, RequestHandler>();
  connected: PeerIdStr[] = [];
  topicHandler: TopicHandler | null = null;
  readonly #peerListeners: Array<(ev: PeerEvent) => void> = [];

  constructor(self = 'self-peer') {
    this.self = self;
  }

  listenAddrs(): string[] {
    return [];
  }
  async start(): Promise<void> {}
  async stop(): Promise<void> {}
  subscribe(topic: string): void {
    this.subscriptions.add(topic);
  }
  unsubscribe(topic: string): void {
    this.subscriptions.delete(topic);
  }
  publish(topic: string, data: Uint8Array): void {
    this.published.push({ topic, data });
  }
  setTopicHandler(handler: TopicHandler): void {
    this.topicHandler = handler;
  }
  topicPeers(): PeerIdStr[] {
    return [];
  }
  request(peer: PeerIdStr, protocol: string, data: Uint8Array, opts: RequestOptions): Promise<Uint8Array> {
    const d = deferred<Uint8Array>();
    this.requests.push({ peer, protocol, data, opts, d });
    return d.promise;
  }
  send(peer: PeerIdStr, protocol: string, data: Uint8Array, opts: { timeoutMs: number }): Promise<void> {
    const d = deferred<void>();
    this.sends.push({ peer, protocol, data, opts, d });
    return d.promise;
  }
  handle(protocol: string, handler: RequestHandler): void {
    this.handlers.set(protocol, handler);
  }
  onPeerEvent(listener: (ev: PeerEvent) => void): void {
    this.#peerListeners.push(listener);
  }
  connectedPeers(): PeerIdStr[] {
    return [...this.connected];
  }
  dial(peer: PeerIdStr, addrs: readonly string[]): Promise<void> {
    const d = deferred<void>();
    this.dials.push({ peer, addrs, d });
    return d.promise;
  }
  async hangUp(): Promise<void> {}

  /** Delivers a topic message as gossipsub would: the handler's verdict is returned. */
  deliver(msg: TopicMessage): Verdict {
    if (this.topicHandler === null) throw new Error('no topic handler set');
    return this.topicHandler(msg);
  }
  emitPeer(ev: PeerEvent): void {
    if (ev.type === 'connect') this.connected.push(ev.peer);
    else this.connected = this.connected.filter((p) => p !== ev.peer);
    for (const l of this.#peerListeners) l(ev);
  }
}

/** A scriptable ProtocolNode: records every call; `plan` decides verdicts, timers and effects. */
export class ScriptedNode implements ProtocolNode {
  readonly calls: string[] = [];
  nextAt: Millis = Infinity;
  verdict: Verdict = 'accept';
  readonly outbox: Outbox;
  onTopic: ((topic: string, from: PeerIdStr, origin: PeerIdStr, payload: Encoded, now: Millis) => void) | null = null;
  onDirectMsg: ((from: PeerIdStr, payload: Encoded, now: Millis) => void) | null = null;
  onTick: ((now: Millis) => void) | null = null;
  onStop: ((now: Millis) => void) | null = null;
  throwOn: string | null = null;

  constructor(outbox: Outbox) {
    this.outbox = outbox;
  }
  #maybeThrow(what: string): void {
    if (this.throwOn === what) throw new Error(`scripted failure in ${what}`);
  }
  start(now: Millis): void {
    this.calls.push(`start@${now}`);
    this.#maybeThrow('start');
  }
  stop(now: Millis): void {
    this.calls.push(`stop@${now}`);
    this.onStop?.(now);
  }
  onTopicMessage(topic: string, from: PeerIdStr, origin: PeerIdStr, payload: Encoded, now: Millis): Verdict {
    this.calls.push(`topic:${topic}@${now}`);
    this.#maybeThrow('topic');
    this.onTopic?.(topic, from, origin, payload, now);
    return this.verdict;
  }
  onDirect(from: PeerIdStr, payload: Encoded, now: Millis): void {
    this.calls.push(`direct:${from}@${now}`);
    this.onDirectMsg?.(from, payload, now);
  }
  onTimer(now: Millis): void {
    this.calls.push(`timer@${now}`);
    this.#maybeThrow('timer');
    this.onTick?.(now);
  }
  nextTimerAtMs(): Millis {
    return this.nextAt;
  }
}

/** A codec for tests: UTF-8 text; "bad:<action>:<code>" fails with that action and code. */
export const textCodec = {
  decodeTopic(_topic: string, bytes: Uint8Array): Encoded<string> {
    return textCodec.decodeDirect(bytes);
  },
  decodeDirect(bytes: Uint8Array): Encoded<string> {
    const msg = new TextDecoder().decode(bytes);
    if (msg.startsWith('bad:')) {
      const [, action, code] = msg.split(':');
      throw Object.assign(new Error('bad message'), { action, code });
    }
    return { msg, bytes };
  },
};

export const encoded = (s: string): Encoded<string> => ({ msg: s, bytes: new TextEncoder().encode(s) });
