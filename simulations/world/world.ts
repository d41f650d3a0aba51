import { SeededRng, wireSize, type Encoded, type Millis, type Outbox, type PeerIdStr, type ProtocolNode, type Rng, type Verdict } from '../../src/core/index.ts';
import { EventQueue } from '../engine/event-queue.ts';
import { TraceHash } from '../engine/trace-hash.ts';
import { TrafficMeter } from '../metrics/traffic-meter.ts';
import { LOST, NetworkModel, defaultNetworkOptions, type NetworkOptions } from '../network/network-model.ts';
import { Topology, defaultTopologyOptions, type TopologyOptions } from '../network/topology.ts';
import { EV_TOPIC, GossipsubModel, type TopicSink } from '../overlay/gossipsub-model.ts';
import { defaultGossipsubModelOptions, type GossipsubModelOptions } from '../overlay/gossipsub-options.ts';
import type { MessageState } from '../overlay/message-state.ts';
import type { Topic } from '../overlay/topic.ts';
import { makePeerIds } from './peer-ids.ts';

/** Event kinds (the queue's `kind` field). EV_TOPIC = 3 belongs to the overlay model. */
export const EV_TIMER = 1;
export const EV_DIRECT = 2;
export const EV_HEARTBEAT = 4;
export const EV_TICK = 5;
export const EV_CALLBACK = 6;
export const EV_PEER_GONE = 7;
export const EV_PARTITION_DETECT = 8;

export interface WorldOptions {
  seed: number;
  /** Most hosts that will ever exist in the run (ids and per-host arrays are sized once). */
  hostCapacity: number;
  topology: TopologyOptions;
  network: NetworkOptions;
  gossipsub: GossipsubModelOptions;
  /** Bytes a direct message costs beyond its payload: a one-way frame on a request channel (frame header, yamux header, noise). No answer frame comes back. */
  directOverheadBytes: number;
  /** CPU time before a direct message reaches the handler (decode). */
  directProcessingMs: number;
  /** Quantiles of per-second traffic use at most this many hosts (every k-th). */
  quantileSampleHosts: number;
  /**
   * Resolution of the clock hosts read: handlers get event times rounded down to it and timers
   * fire on it. 1 ms is what the agent's Date.now() gives; the network stays sub-millisecond.
   * 0 passes exact fractional times.
   */
  clockResolutionMs: number;
}

export const defaultWorldOptions: WorldOptions = {
  seed: 1,
  hostCapacity: 1000,
  topology: defaultTopologyOptions,
  network: defaultNetworkOptions,
  gossipsub: defaultGossipsubModelOptions,
  directOverheadBytes: 33, // bytes; one-way frame header (3) + yamux data header (12) + noise length and tag (18)
  directProcessingMs: 0.2, // ms; msgpackr decode and dispatch, no signature on direct frames
  quantileSampleHosts: 10_000, // hosts; a p99 over 10k samples is exact enough and costs a 10k sort per second
  clockResolutionMs: 1, // ms; the agent's clock is Date.now(), so protocol code only ever sees whole milliseconds
};

/** What a host factory is told about the host it builds. */
export interface HostContext {
  readonly index: number;
  readonly self: PeerIdStr;
  readonly zone: string;
  readonly rng: Rng;
  readonly outbox: Outbox;
  /** 0 on first start, bumped by every restart (the agent persists it). */
  readonly incarnation: number;
  readonly nowMs: Millis;
  /** Peers to join through (empty for the first host). */
  readonly seeds: readonly PeerIdStr[];
}

export type HostFactory<N extends ProtocolNode> = (ctx: HostContext) => N;

export interface HandlerError {
  readonly host: number;
  readonly atMs: number;
  readonly where: string;
  readonly message: string;
}

/**
 * The simulated world: hosts running unchanged sans-I/O protocol nodes on a virtual clock,
 * the network model between them and the gossipsub overlay model on top. It owns the single
 * event loop; everything (timers, direct messages, topic copies, heartbeats, scenario
 * actions) is an event in one queue, so a run is a pure function of its seed.
 *
 * Each host has one timer event at a time: after every handler call the world re-reads
 * `nextTimerAtMs()`, and pushes a new event only when the wanted time moved earlier. A
 * later time is honoured when the queued event pops (it is pushed back), so an idle host
 * and a host that keeps postponing its timer both cost nothing extra.
 */
export class World<N extends ProtocolNode = ProtocolNode> implements TopicSink {
  readonly opts: WorldOptions;
  readonly queue: EventQueue;
  readonly trace = new TraceHash();
  readonly topology: Topology;
  readonly network: NetworkModel;
  readonly overlay: GossipsubModel;
  readonly meter: TrafficMeter;
  readonly rng: SeededRng;
  readonly ids: readonly PeerIdStr[];
  readonly indexOf = new Map<PeerIdStr, number>();
  /** 1 while the host runs. */
  readonly alive: Uint8Array;
  readonly hosts: (N | null)[];
  readonly incarnation: Int32Array;
  /** Highest host index ever started, plus one. */
  hostCount = 0;
  nowMs: Millis = 0;
  readonly handlerErrors: HandlerError[] = [];
  handlerErrorCount = 0;
  unknownPeerSends = 0;
  directSent = 0;
  /** Called once per simulated second, after that second's traffic is final enough to sample. */
  readonly secondListeners: ((second: number, nowMs: Millis) => void)[] = [];

  private readonly factory: HostFactory<N> | null;
  private readonly outboxes: (HostOutbox | undefined)[];
  private readonly timerAtMs: Float64Array;
  private readonly timerQueuedAtMs: Float64Array;
  private readonly timerGen: Int32Array;
  /** Direct messages in flight, by slot (the queue's payload field). */
  private directFrom: Int32Array;
  private directPayload: (Encoded | undefined)[] = [];
  private readonly freeDirect: number[] = [];
  /** The sender of the direct message being handled, else -1 (see destinationOf). */
  private replyHost = -1;
  /** Per host, its last two destinations and their indices (see destinationOf). */
  private readonly recentTo: (PeerIdStr | undefined)[];
  private readonly recentDest: Int32Array;
  private readonly callbacks: (((nowMs: Millis) => void) | undefined)[] = [];
  private readonly freeCallbacks: number[] = [];
  private partitionGen = 0;
  private started = false;
  private readonly resolutionMs: number;

  constructor(opts: WorldOptions, modules: { factory: HostFactory<N> | null; topicKindOf?: (topic: string) => string }) {
    this.opts = opts;
    const cap = opts.hostCapacity;
    this.rng = new SeededRng(opts.seed);
    this.queue = new EventQueue(Math.max(1024, cap * 2));
    this.topology = new Topology(opts.topology, cap);
    this.network = new NetworkModel(opts.network, { topology: this.topology, rng: this.rng.fork('network'), hostCapacity: cap });
    this.meter = new TrafficMeter(cap, opts.quantileSampleHosts);
    this.alive = new Uint8Array(cap);
    this.hosts = new Array<N | null>(cap).fill(null);
    this.incarnation = new Int32Array(cap);
    this.outboxes = new Array<HostOutbox | undefined>(cap);
    this.timerAtMs = new Float64Array(cap).fill(Infinity);
    this.timerQueuedAtMs = new Float64Array(cap).fill(Infinity);
    this.timerGen = new Int32Array(cap);
    this.directFrom = new Int32Array(1024);
    this.recentTo = new Array<PeerIdStr | undefined>(2 * cap).fill(undefined);
    this.recentDest = new Int32Array(2 * cap);
    this.factory = modules.factory;
    this.resolutionMs = opts.clockResolutionMs;
    this.ids = makePeerIds(cap, this.rng.fork('peer-ids'));
    for (let i = 0; i < cap; i++) this.indexOf.set(this.ids[i]!, i);
    this.overlay = new GossipsubModel(opts.gossipsub, {
      queue: this.queue,
      network: this.network,
      meter: this.meter,
      alive: this.alive,
      rng: this.rng.fork('overlay'),
      sink: this,
      topicKindOf: modules.topicKindOf ?? defaultTopicKind,
    });
  }

  private ensureStarted(): void {
    if (this.started) return;
    this.started = true;
    const hb = this.opts.gossipsub.heartbeatMs;
    this.queue.push(this.nowMs + hb, EV_HEARTBEAT, 0, 0);
    this.meter.advance(this.nowMs, this.alive, this.hostCount);
    this.queue.push(Math.floor(this.nowMs / 1000) * 1000 + 1000, EV_TICK, 0, 0);
  }

  /** The time a host's clock shows at world time `t` (see clockResolutionMs). */
  hostTime(t: Millis): Millis {
    const r = this.resolutionMs;
    return r > 0 ? Math.floor(t / r) * r : t;
  }

  /** Host `i`'s random stream for its protocol node: independent of every other host's, and of event order. */
  hostRng(i: number): Rng {
    return this.rng.fork(`host:${this.ids[i]}:${this.incarnation[i]}`);
  }

  /** Starts host `i` with a node built by the factory. */
  startHost(i: number, nowMs: Millis, seeds: readonly PeerIdStr[]): N {
    if (this.factory === null) throw new Error('this world has no host factory; use attachHost');
    if (this.alive[i]) throw new Error(`host ${i} is already running`);
    const ctx: HostContext = {
      index: i,
      self: this.ids[i]!,
      zone: this.topology.zoneName(this.topology.zoneOf[i]!),
      rng: this.hostRng(i),
      outbox: this.outbox(i),
      incarnation: this.incarnation[i]!,
      nowMs: this.hostTime(nowMs),
      seeds,
    };
    return this.attachHost(i, this.factory(ctx), nowMs);
  }

  /** Runs an already-built node as host `i` (the in-memory Transport and tests use this). */
  attachHost(i: number, node: N, nowMs: Millis): N {
    this.ensureStarted();
    this.nowMs = nowMs;
    this.hosts[i] = node;
    this.alive[i] = 1;
    if (i >= this.hostCount) this.hostCount = i + 1;
    this.timerAtMs[i] = Infinity;
    this.guard(i, 'start', () => node.start(this.hostTime(nowMs)));
    this.refreshTimer(i);
    return node;
  }

  outbox(i: number): Outbox {
    let o = this.outboxes[i];
    if (o === undefined) {
      o = new HostOutbox(this as unknown as World<ProtocolNode>, i);
      this.outboxes[i] = o;
    }
    return o;
  }

  /** Power loss: no goodbye; peers notice through timeouts. */
  crashHost(i: number, nowMs: Millis): void {
    if (!this.alive[i]) return;
    this.alive[i] = 0;
    this.hosts[i] = null;
    this.overlay.nodeCrashed(i);
    this.queue.push(nowMs + this.opts.gossipsub.deadPeerDetectMs, EV_PEER_GONE, i, 1);
  }

  /** Graceful leave: the node announces it, then its connections close. */
  leaveHost(i: number, nowMs: Millis): void {
    const node = this.hosts[i];
    if (!this.alive[i] || node === null || node === undefined) return;
    this.nowMs = nowMs;
    this.guard(i, 'stop', () => node.stop(this.hostTime(nowMs)));
    this.alive[i] = 0;
    this.hosts[i] = null;
    // Connections close cleanly right after the announcement leaves the uplink.
    this.queue.push(nowMs + 50, EV_PEER_GONE, i, 0);
  }

  /** A crashed or departed host comes back with a higher incarnation (the agent persists it). */
  restartHost(i: number, nowMs: Millis, seeds: readonly PeerIdStr[]): N {
    this.incarnation[i]!++;
    return this.startHost(i, nowMs, seeds);
  }

  /** Splits the hosts into groups (`groupOf[host]`); `null` heals. Mesh links across time out later. */
  setPartition(groupOf: Int32Array | null, nowMs: Millis): void {
    this.network.setPartition(groupOf);
    this.partitionGen++;
    if (groupOf !== null) this.queue.push(nowMs + this.opts.gossipsub.deadPeerDetectMs, EV_PARTITION_DETECT, 0, this.partitionGen);
  }

  /** Schedules a rare action (scenario steps, samplers). Not for per-message work: that is what typed events are for. */
  at(timeMs: Millis, fn: (nowMs: Millis) => void): void {
    this.ensureStarted();
    const slot = this.freeCallbacks.pop() ?? this.callbacks.length;
    this.callbacks[slot] = fn;
    this.queue.push(Math.max(timeMs, this.nowMs), EV_CALLBACK, 0, slot);
  }

  /** Runs events until virtual time passes `endMs` (events at exactly `endMs` run). */
  runUntil(endMs: Millis): void {
    this.ensureStarted();
    const q = this.queue;
    while (q.peekTimeMs() <= endMs) {
      q.pop();
      const now = q.timeMs;
      this.nowMs = now;
      switch (q.kind) {
        case EV_TOPIC: {
          const host = this.overlay.onTopicEvent(q.node, q.payload, now);
          if (host >= 0) this.trace.add(now, host, EV_TOPIC, 1);
          break;
        }
        case EV_DIRECT:
          this.deliverDirect(q.node, q.payload, now);
          break;
        case EV_TIMER:
          this.fireTimer(q.node, q.payload, now);
          break;
        case EV_HEARTBEAT:
          this.overlay.heartbeat(now);
          q.push(now + this.opts.gossipsub.heartbeatMs, EV_HEARTBEAT, 0, 0);
          break;
        case EV_TICK: {
          this.meter.advance(now, this.alive, this.hostCount);
          const second = Math.round(now / 1000);
          for (const l of this.secondListeners) l(second, now);
          q.push(now + 1000, EV_TICK, 0, 0);
          break;
        }
        case EV_CALLBACK: {
          const fn = this.callbacks[q.payload]!;
          this.callbacks[q.payload] = undefined;
          this.freeCallbacks.push(q.payload);
          fn(now);
          break;
        }
        case EV_PEER_GONE:
          // A host restarted before peers noticed it left keeps its (new) subscriptions.
          if (!this.alive[q.node]) this.overlay.peerGone(q.node, now, q.payload === 1);
          break;
        case EV_PARTITION_DETECT:
          if (q.payload === this.partitionGen && this.network.partitioned) this.overlay.partitionDetected(now);
          break;
        default:
          throw new Error(`unknown event kind ${q.kind}`);
      }
    }
    this.nowMs = endMs;
  }

  /** Finalises traffic statistics up to `endMs` (call once at the end of a run). */
  finish(endMs: Millis): void {
    this.meter.flush(endMs, this.hostCount);
  }

  // ---- TopicSink ----

  deliverTopic(host: number, topic: Topic, fromHost: number, message: MessageState, nowMs: Millis): Verdict {
    const node = this.hosts[host]!;
    let verdict: Verdict = 'ignore';
    try {
      verdict = node.onTopicMessage(topic.name, this.ids[fromHost]!, this.ids[message.origin]!, message.payload, this.hostTime(nowMs));
    } catch (err) {
      this.recordError(host, nowMs, 'onTopicMessage', err);
    }
    this.refreshTimer(host);
    return verdict;
  }

  // ---- effects from outboxes ----

  publishFrom(host: number, topic: string, payload: Encoded): void {
    this.overlay.publish(host, topic, payload, this.nowMs);
  }

  sendFrom(host: number, to: PeerIdStr, payload: Encoded): void {
    const dest = this.destinationOf(host, to);
    if (dest === undefined) {
      this.unknownPeerSends++;
      return;
    }
    const now = this.nowMs;
    const bytes = wireSize(payload) + this.opts.directOverheadBytes;
    this.meter.sent(host, now, bytes);
    this.directSent++;
    const a = this.network.transmit(host, dest, bytes, now);
    if (a === LOST) return;
    const slot = this.freeDirect.pop() ?? this.directPayload.length;
    if (slot >= this.directFrom.length) {
      const grown = new Int32Array(this.directFrom.length * 2);
      grown.set(this.directFrom);
      this.directFrom = grown;
    }
    this.directFrom[slot] = host;
    this.directPayload[slot] = payload;
    this.queue.push(a + this.opts.directProcessingMs, EV_DIRECT, dest, slot);
  }

  /**
   * The host a peer id names, for a send from `host`. The map of 100k peer ids costs cache
   * misses on every lookup (its table, the id's hash), so two cheaper answers come first: an
   * answer to the message being handled (an ack, a sync answer) goes to its sender, and each
   * host remembers its last two destinations (its ring successors, pinged every round).
   * Comparing ids by reference reads neither string.
   */
  private destinationOf(host: number, to: PeerIdStr): number | undefined {
    const r = this.replyHost;
    if (r >= 0 && to === this.ids[r]) return r;
    const k = 2 * host;
    const recent = this.recentTo;
    if (to === recent[k]) return this.recentDest[k];
    if (to === recent[k + 1]) return this.recentDest[k + 1];
    const dest = this.indexOf.get(to);
    if (dest === undefined) return undefined;
    recent[k + 1] = recent[k];
    this.recentDest[k + 1] = this.recentDest[k]!;
    recent[k] = to;
    this.recentDest[k] = dest;
    return dest;
  }

  private deliverDirect(dest: number, slot: number, now: Millis): void {
    const from = this.directFrom[slot]!;
    const payload = this.directPayload[slot]!;
    this.directPayload[slot] = undefined;
    this.freeDirect.push(slot);
    if (!this.alive[dest]) return;
    const size = wireSize(payload);
    const bytes = size + this.opts.directOverheadBytes;
    this.meter.received(dest, now, bytes);
    this.trace.add(now, dest, EV_DIRECT, size);
    const node = this.hosts[dest]!;
    this.replyHost = from;
    try {
      node.onDirect(this.ids[from]!, payload, this.hostTime(now));
    } catch (err) {
      this.recordError(dest, now, 'onDirect', err);
    }
    this.replyHost = -1;
    this.refreshTimer(dest);
  }

  private fireTimer(host: number, gen: number, now: Millis): void {
    if (gen !== this.timerGen[host]) return;
    this.timerQueuedAtMs[host] = Infinity;
    if (!this.alive[host]) return;
    const want = this.timerAtMs[host]!;
    const hostNow = this.hostTime(now);
    if (want > hostNow) {
      // The node postponed its timer since this event was queued.
      if (want !== Infinity) this.queueTimer(host, want);
      return;
    }
    this.trace.add(now, host, EV_TIMER, 0);
    const node = this.hosts[host]!;
    try {
      node.onTimer(hostNow);
    } catch (err) {
      this.recordError(host, now, 'onTimer', err);
    }
    this.refreshTimer(host);
  }

  /** Re-reads the node's wanted wake-up; pushes an event only when it moved earlier than the queued one. */
  refreshTimer(host: number): void {
    const node = this.hosts[host];
    if (node === null || node === undefined) return;
    let want = Infinity;
    try {
      want = node.nextTimerAtMs();
    } catch (err) {
      this.recordError(host, this.nowMs, 'nextTimerAtMs', err);
    }
    if (Number.isNaN(want)) want = Infinity;
    this.timerAtMs[host] = want;
    if (want < this.timerQueuedAtMs[host]!) this.queueTimer(host, want);
  }

  private queueTimer(host: number, atMs: number): void {
    // On a coarse clock a timer fires at the first tick at or after its deadline.
    const r = this.resolutionMs;
    const tick = r > 0 ? Math.ceil(atMs / r) * r : atMs;
    const t = tick < this.nowMs ? this.nowMs : tick;
    const gen = (this.timerGen[host]! + 1) | 0;
    this.timerGen[host] = gen;
    this.timerQueuedAtMs[host] = t;
    this.queue.push(t, EV_TIMER, host, gen);
  }

  /** Runs a non-hot handler (start/stop/updates from scenarios) with error capture and a timer refresh. */
  guard(host: number, where: string, fn: () => void): void {
    const prev = this.nowMs;
    try {
      fn();
    } catch (err) {
      this.recordError(host, prev, where, err);
    }
    this.refreshTimer(host);
  }

  private recordError(host: number, atMs: number, where: string, err: unknown): void {
    this.handlerErrorCount++;
    if (this.handlerErrors.length < 20) {
      const message = err instanceof Error ? `${err.message}\n${err.stack?.split('\n').slice(1, 4).join('\n') ?? ''}` : String(err);
      this.handlerErrors.push({ host, atMs, where, message });
    }
  }

  /** Live hosts, for samplers. */
  liveCount(): number {
    let n = 0;
    for (let i = 0; i < this.hostCount; i++) n += this.alive[i]!;
    return n;
  }
}

/** Guesses a bounded topic label from a topic name: the segment naming cell, district or global, else `other`. */
export function defaultTopicKind(topic: string): string {
  for (const kind of ['cell', 'district', 'global', 'flat']) if (topic.includes(kind)) return kind;
  return 'other';
}

/** A host's outbox: effects go straight to the world, which is inside that host's handler. */
export class HostOutbox implements Outbox {
  protected readonly world: World<ProtocolNode>;
  protected readonly host: number;

  constructor(world: World<ProtocolNode>, host: number) {
    this.world = world;
    this.host = host;
  }

  publish(topic: string, payload: Encoded): void {
    if (this.world.alive[this.host]) this.world.publishFrom(this.host, topic, payload);
  }

  subscribe(topic: string): void {
    if (this.world.alive[this.host]) this.world.overlay.subscribe(this.host, topic, this.world.nowMs);
  }

  unsubscribe(topic: string): void {
    this.world.overlay.unsubscribe(this.host, topic, this.world.nowMs);
  }

  send(to: PeerIdStr, payload: Encoded): void {
    if (this.world.alive[this.host]) this.world.sendFrom(this.host, to, payload);
  }

  connect(_peer: PeerIdStr, _addrs: readonly string[]): void {
    // Every simulated host can reach every other (partitions aside): connection management is not modelled.
  }
}
