import { Alarm } from '../core/alarm.ts';
import type { Clock, Millis } from '../core/clock.ts';
import { ShoalError } from '../core/errors.ts';
import type { Encoded, Outbox, ProtocolNode } from '../core/protocol.ts';
import type { PeerEvent, PeerIdStr, TopicMessage, Transport, Verdict } from '../core/transport.ts';
import { NetError, NetErrorCode } from './errors.ts';
import type { NetLogger } from './logger.ts';
import { defaultTopicKind, type TopicKindFn } from './metrics.ts';

/**
 * Drives a sans-I/O `ProtocolNode` with a real `Transport` and `Clock`: inbound messages and
 * timers become handler calls, and the Outbox effects the node records become transport
 * calls. The node never awaits anything; this runner owns every promise.
 *
 * Call `start()` after `transport.start()`, and `stop()` before `transport.stop()` so the
 * node's leave announcement still has a transport to go out on.
 */

/** What a decoder throws for bad bytes: the gossipsub action and a bounded reason code. */
export interface DecodeFailure {
  readonly action: 'reject' | 'ignore';
  readonly code: string;
}

/** The gossip codec, injected (written in `src/gossip`). Both functions throw a DecodeFailure-shaped error on bad input. */
export interface ProtocolCodec {
  decodeTopic(topic: string, bytes: Uint8Array): Encoded;
  decodeDirect(bytes: Uint8Array): Encoded;
}

export interface ProtocolRunnerOptions {
  /** The one-way direct-message protocol id. */
  directProtocol: string;
  /** A direct send not acknowledged within this is counted as failed. */
  sendTimeoutMs: number;
  /** Direct sends in flight at once; more are dropped (the protocol retransmits by design). */
  maxInFlightSends: number;
  /** Dials running at once for Outbox.connect. */
  maxConcurrentDials: number;
  /** Dials waiting to run; newer requests beyond this are dropped. */
  maxQueuedDials: number;
  dialTimeoutMs: number;
  /** After onTimer, a deadline not in the future is pushed out this far. */
  minTimerDelayMs: number;
}

export const defaultProtocolRunnerOptions: ProtocolRunnerOptions = {
  directProtocol: '/shoal/direct/2.0.0',
  sendTimeoutMs: 5_000, // ms; loopback/LAN round trips are ms, so 5 s means the peer is gone
  maxInFlightSends: 256, // count; probes and acks of a cell-sized neighbourhood, with headroom; bounds memory in a storm
  maxConcurrentDials: 4, // count; joins dial a few contacts, and a storm of connects must not open hundreds of sockets
  maxQueuedDials: 64, // count; a cell's worth of neighbours; the node asks again if a dial is dropped
  dialTimeoutMs: 5_000, // ms; matches the transport's dial timeout
  minTimerDelayMs: 5, // ms; a node whose deadline does not advance after onTimer (a bug) would otherwise spin the event loop
};

export type RunnerDropReason = 'queue_full' | 'stopped';
/** Where the node misbehaved; `timer_not_advanced`: its deadline stayed in the past after onTimer. */
export type RunnerHandler = 'topic' | 'direct' | 'timer' | 'start' | 'stop' | 'timer_not_advanced';

export interface ProtocolRunnerMetrics {
  /** A decoder refused bytes; `code` comes from the codec's fixed set. */
  decodeFailed(kind: string, action: 'reject' | 'ignore', code: string): void;
  /** The node threw (or broke the timer contract): a protocol bug, never the peer's fault. */
  handlerThrew(handler: RunnerHandler): void;
  sendDropped(reason: RunnerDropReason): void;
  sendFailed(code: string): void;
  dialDropped(reason: RunnerDropReason): void;
  dialFailed(code: string): void;
  inFlightSends(n: number): void;
  queuedDials(n: number): void;
}

export interface ProtocolRunnerModules {
  /** The node, or a factory that builds it around the runner's Outbox (the node records effects there). */
  node: ProtocolNode | ((outbox: Outbox) => ProtocolNode);
  transport: Transport;
  clock: Clock;
  codec: ProtocolCodec;
  metrics: ProtocolRunnerMetrics | null;
  logger?: NetLogger | null;
  topicKind?: TopicKindFn;
}

const EMPTY = new Uint8Array(0);

function asDecodeFailure(err: unknown): DecodeFailure {
  const e = err as Partial<DecodeFailure> | null;
  if (e !== null && typeof e === 'object' && (e.action === 'reject' || e.action === 'ignore') && typeof e.code === 'string') {
    return { action: e.action, code: e.code };
  }
  // A decoder that throws something else still saw bad bytes: reject, so the sender pays.
  return { action: 'reject', code: 'DECODE_ERROR' };
}

export class ProtocolRunner {
  readonly #opts: ProtocolRunnerOptions;
  readonly #node: ProtocolNode;
  readonly #transport: Transport;
  readonly #clock: Clock;
  readonly #codec: ProtocolCodec;
  readonly #metrics: ProtocolRunnerMetrics | null;
  readonly #log: NetLogger | null;
  readonly #topicKind: TopicKindFn;
  readonly #outbox: Outbox;
  readonly #connected = new Set<PeerIdStr>();
  /** Dials waiting to run, FIFO by insertion; value = addresses from the latest request. */
  readonly #dialQueue = new Map<PeerIdStr, readonly string[]>();
  readonly #dialing = new Set<PeerIdStr>();
  #inFlightSends = 0;
  readonly #alarm: Alarm;
  #state: 'new' | 'running' | 'stopped' = 'new';

  constructor(opts: Partial<ProtocolRunnerOptions>, modules: ProtocolRunnerModules) {
    this.#opts = { ...defaultProtocolRunnerOptions, ...opts };
    this.#transport = modules.transport;
    this.#clock = modules.clock;
    this.#codec = modules.codec;
    this.#metrics = modules.metrics;
    this.#log = modules.logger ?? null;
    this.#topicKind = modules.topicKind ?? defaultTopicKind;
    this.#outbox = {
      publish: (topic, payload) => this.#transport.publish(topic, payload.bytes),
      subscribe: (topic) => this.#transport.subscribe(topic),
      unsubscribe: (topic) => this.#transport.unsubscribe(topic),
      send: (to, payload) => this.#send(to, payload),
      connect: (peer, addrs) => this.#connect(peer, addrs),
    };
    this.#node = typeof modules.node === 'function' ? modules.node(this.#outbox) : modules.node;
    this.#alarm = new Alarm(modules.clock, this.#onTimer);
  }

  get node(): ProtocolNode {
    return this.#node;
  }

  /** The Outbox that turns the node's effects into transport calls. */
  get outbox(): Outbox {
    return this.#outbox;
  }

  get running(): boolean {
    return this.#state === 'running';
  }

  /** Time the single protocol timer is armed for (Infinity when idle); for diagnostics and tests. */
  get armedAtMs(): Millis {
    return this.#alarm.armedAtMs;
  }

  get inFlightSends(): number {
    return this.#inFlightSends;
  }

  get queuedDials(): number {
    return this.#dialQueue.size;
  }

  start(): void {
    if (this.#state !== 'new') throw new NetError(NetErrorCode.alreadyStarted, `protocol runner cannot start from state ${this.#state}`);
    this.#state = 'running';
    for (const p of this.#transport.connectedPeers()) this.#connected.add(p);
    this.#transport.onPeerEvent(this.#onPeerEvent);
    this.#transport.setTopicHandler(this.#onTopicMessage);
    this.#transport.handle(this.#opts.directProtocol, this.#onDirect);
    this.#guard('start', () => this.#node.start(this.#clock.now()));
    this.#rearm();
  }

  /** Lets the node announce its leave, then stops all timers and drops queued work. */
  stop(): void {
    if (this.#state !== 'running') {
      this.#state = 'stopped';
      return;
    }
    this.#guard('stop', () => this.#node.stop(this.#clock.now()));
    this.#state = 'stopped';
    this.#alarm.cancel();
    for (let i = 0; i < this.#dialQueue.size; i++) this.#metrics?.dialDropped('stopped');
    this.#dialQueue.clear();
    this.#metrics?.queuedDials(0);
  }

  /** Re-reads the node's deadline after the owner drove it directly (`updateSelf`, `join`), so its effects are not held until the next timer. */
  poke(): void {
    this.#rearm();
  }

  // ---- inbound ----

  readonly #onTopicMessage = (msg: TopicMessage): Verdict => {
    if (this.#state !== 'running') return 'ignore';
    let payload: Encoded;
    try {
      payload = this.#codec.decodeTopic(msg.topic, msg.data);
    } catch (err) {
      const f = asDecodeFailure(err);
      this.#metrics?.decodeFailed(this.#topicKind(msg.topic), f.action, f.code);
      return f.action;
    }
    let verdict: Verdict = 'ignore';
    this.#guard('topic', () => {
      verdict = this.#node.onTopicMessage(msg.topic, msg.from, msg.origin, payload, this.#clock.now());
    });
    this.#rearm();
    return verdict;
  };

  readonly #onDirect = (from: PeerIdStr, data: Uint8Array): Uint8Array => {
    if (this.#state !== 'running') throw new NetError(NetErrorCode.notStarted, 'protocol runner is not running');
    let payload: Encoded;
    try {
      payload = this.#codec.decodeDirect(data);
    } catch (err) {
      const f = asDecodeFailure(err);
      this.#metrics?.decodeFailed('direct', f.action, f.code);
      // The sender learns through NET_REMOTE_ERROR; there is no gossip score to lower here.
      throw new NetError(NetErrorCode.directDecodeFailed, `direct message rejected: ${f.code}`, { code: f.code });
    }
    this.#guard('direct', () => this.#node.onDirect(from, payload, this.#clock.now()));
    this.#rearm();
    return EMPTY;
  };

  readonly #onPeerEvent = (ev: PeerEvent): void => {
    if (ev.type === 'connect') this.#connected.add(ev.peer);
    else this.#connected.delete(ev.peer);
  };

  // ---- timer ----

  #rearm(afterTimer = false): void {
    if (this.#state !== 'running') return;
    let at = this.#node.nextTimerAtMs();
    if (afterTimer && at <= this.#clock.now()) {
      this.#metrics?.handlerThrew('timer_not_advanced');
      at = this.#clock.now() + this.#opts.minTimerDelayMs;
    }
    this.#alarm.setAt(at);
  }

  readonly #onTimer = (): void => {
    if (this.#state !== 'running') return;
    this.#guard('timer', () => this.#node.onTimer(this.#clock.now()));
    this.#rearm(true);
  };

  /** A node that throws has a bug; count and log it, and keep the agent alive. */
  #guard(handler: RunnerHandler, fn: () => void): void {
    try {
      fn();
    } catch (err) {
      this.#metrics?.handlerThrew(handler);
      this.#log?.warn({ handler, err: err instanceof Error ? (err.stack ?? err.message) : String(err) }, 'protocol node threw');
    }
  }

  // ---- outbound effects ----

  #send(to: PeerIdStr, payload: Encoded): void {
    if (this.#state === 'stopped') {
      this.#metrics?.sendDropped('stopped');
      return;
    }
    if (this.#inFlightSends >= this.#opts.maxInFlightSends) {
      this.#metrics?.sendDropped('queue_full');
      return;
    }
    this.#inFlightSends++;
    this.#metrics?.inFlightSends(this.#inFlightSends);
    this.#transport.send(to, this.#opts.directProtocol, payload.bytes, { timeoutMs: this.#opts.sendTimeoutMs }).then(
      () => undefined,
      (err: unknown) => {
        const code = err instanceof ShoalError ? err.code : 'NET_STREAM_FAILED';
        this.#metrics?.sendFailed(code);
        this.#log?.debug({ peer: to, code }, 'direct send failed');
      },
    ).finally(() => {
      this.#inFlightSends--;
      this.#metrics?.inFlightSends(this.#inFlightSends);
    });
  }

  #connect(peer: PeerIdStr, addrs: readonly string[]): void {
    if (this.#state === 'stopped') {
      this.#metrics?.dialDropped('stopped');
      return;
    }
    if (peer === this.#transport.self || this.#connected.has(peer) || this.#dialing.has(peer)) return;
    if (this.#dialQueue.has(peer)) {
      this.#dialQueue.set(peer, addrs); // keep the newest addresses, and its place in line
      return;
    }
    if (this.#dialQueue.size >= this.#opts.maxQueuedDials) {
      this.#metrics?.dialDropped('queue_full');
      return;
    }
    this.#dialQueue.set(peer, addrs);
    this.#metrics?.queuedDials(this.#dialQueue.size);
    this.#pumpDials();
  }

  #pumpDials(): void {
    while (this.#state === 'running' && this.#dialing.size < this.#opts.maxConcurrentDials && this.#dialQueue.size > 0) {
      const [peer, addrs] = this.#dialQueue.entries().next().value as [PeerIdStr, readonly string[]];
      this.#dialQueue.delete(peer);
      this.#metrics?.queuedDials(this.#dialQueue.size);
      if (this.#connected.has(peer)) continue;
      this.#dialing.add(peer);
      this.#transport.dial(peer, addrs, { signal: AbortSignal.timeout(this.#opts.dialTimeoutMs) }).then(
        () => undefined,
        (err: unknown) => {
          const code = err instanceof ShoalError ? err.code : 'NET_UNREACHABLE';
          this.#metrics?.dialFailed(code);
          this.#log?.debug({ peer, code }, 'dial for the protocol node failed');
        },
      ).finally(() => {
        this.#dialing.delete(peer);
        this.#pumpDials();
      });
    }
  }
}
