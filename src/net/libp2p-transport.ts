import { TopicValidatorResult, type Message } from '@libp2p/gossipsub';
import type { PeerScoreParams } from '@libp2p/gossipsub/score';
import type { PeerId, PrivateKey } from '@libp2p/interface';
import { peerIdFromString } from '@libp2p/peer-id';
import { multiaddr, type Multiaddr } from '@multiformats/multiaddr';
import type {
  PeerEvent,
  PeerIdStr,
  RequestHandler,
  RequestOptions,
  TopicHandler,
  Transport,
  Verdict,
} from '../core/transport.ts';
import { NetError, NetErrorCode } from './errors.ts';
import { topicScoreParams } from './gossip-config.ts';
import { createLibp2pNode, type ShoalLibp2p } from './libp2p-node.ts';
import type { NetLogger } from './logger.ts';
import { defaultTopicKind, type NetMetrics, type PublishFailReason, type TopicKindFn } from './metrics.ts';
import { resolveNetOptions, type NetOptions, type NetOptionsInput } from './options.ts';
import { StreamRequestResponse } from './request-response.ts';

/**
 * The protocol core's `Transport`, over libp2p + gossipsub. The only place (with
 * `libp2p-node.ts`) that touches libp2p types; everything crossing the interface is
 * strings and bytes.
 */

export interface Libp2pTransportModules {
  libp2p: ShoalLibp2p;
  metrics: NetMetrics | null;
  /** Topic → bounded metric label; defaults to `defaultTopicKind`. */
  topicKind?: TopicKindFn;
  logger?: NetLogger | null;
}

export interface CreateLibp2pTransportModules extends Omit<Libp2pTransportModules, 'libp2p'> {
  privateKey: PrivateKey;
  /** Swarm key file text, or null for an open network (tests only). */
  swarmKey: Uint8Array | null;
}

/** Gossipsub internals we rely on; checked at start so a library upgrade that moves them fails loudly. */
interface GossipsubInternals {
  score: { params: PeerScoreParams; score(id: string): number };
  getMeshPeers(topic: string): string[];
}

const VERDICT: Record<Verdict, TopicValidatorResult> = {
  accept: TopicValidatorResult.Accept,
  reject: TopicValidatorResult.Reject,
  ignore: TopicValidatorResult.Ignore,
};

function publishFailReason(err: unknown): PublishFailReason {
  const msg = err instanceof Error ? err.message : '';
  if (msg.includes('NoPeersSubscribedToTopic')) return 'no_peers';
  if (msg.includes('Duplicate')) return 'duplicate';
  return 'error';
}

/**
 * Parsed peer ids, by their string. Every direct message names its peer as a string, and
 * parsing one (base58, multihash, key) cost 1.5% of an idle agent's CPU. PeerIds are
 * immutable; the bound only keeps a long-lived process from holding every peer it ever met.
 */
const parsedPeerIds = new Map<PeerIdStr, PeerId>();
const MAX_PARSED_PEER_IDS = 4096;

export function parsePeerId(peer: PeerIdStr): PeerId {
  const cached = parsedPeerIds.get(peer);
  if (cached !== undefined) return cached;
  let id: PeerId;
  try {
    id = peerIdFromString(peer);
  } catch (err) {
    throw new NetError(NetErrorCode.invalidPeerId, `not a peer id: ${JSON.stringify(peer.slice(0, 80))}`, { peer: peer.slice(0, 80) }, { cause: err });
  }
  if (parsedPeerIds.size >= MAX_PARSED_PEER_IDS) parsedPeerIds.clear();
  parsedPeerIds.set(peer, id);
  return id;
}

export function parseMultiaddr(addr: string): Multiaddr {
  try {
    return multiaddr(addr);
  } catch (err) {
    throw new NetError(NetErrorCode.invalidAddr, `not a multiaddr: ${JSON.stringify(addr.slice(0, 200))}`, { addr: addr.slice(0, 200) }, { cause: err });
  }
}

export class Libp2pTransport implements Transport {
  readonly self: PeerIdStr;
  readonly #opts: NetOptions;
  readonly #libp2p: ShoalLibp2p;
  readonly #metrics: NetMetrics | null;
  readonly #topicKind: TopicKindFn;
  readonly #log: NetLogger | null;
  readonly #rr: StreamRequestResponse;
  /** Topics we want, in subscription order; applied to gossipsub at start. */
  readonly #subscribed = new Set<string>();
  /** Topics that already have our validator and score params installed. */
  readonly #prepared = new Set<string>();
  readonly #peerListeners: Array<(ev: PeerEvent) => void> = [];
  readonly #inflightPublishes = new Set<Promise<void>>();
  #topicHandler: TopicHandler | null = null;
  #state: 'new' | 'starting' | 'started' | 'stopping' | 'stopped' = 'new';

  /** Builds the libp2p node from options and wraps it. Not started. */
  static async create(opts: NetOptionsInput, modules: CreateLibp2pTransportModules): Promise<Libp2pTransport> {
    const resolved = resolveNetOptions(opts);
    const libp2p = await createLibp2pNode(resolved, { privateKey: modules.privateKey, swarmKey: modules.swarmKey });
    return new Libp2pTransport(resolved, { libp2p, metrics: modules.metrics, topicKind: modules.topicKind, logger: modules.logger });
  }

  constructor(opts: NetOptions, modules: Libp2pTransportModules) {
    this.#opts = opts;
    this.#libp2p = modules.libp2p;
    this.#metrics = modules.metrics;
    this.#topicKind = modules.topicKind ?? defaultTopicKind;
    this.#log = modules.logger ?? null;
    this.self = this.#libp2p.peerId.toString();
    this.#rr = new StreamRequestResponse(opts.requests, {
      opener: {
        dialProtocol: (peer, protocol, o) => this.#libp2p.dialProtocol(peer, protocol, o),
        handle: (protocol, handler, o) => this.#libp2p.handle(protocol, handler, o),
      },
      metrics: this.#metrics,
      logger: this.#log,
    });
  }

  /** The underlying libp2p node: for the agent's diagnostics and for tests that misbehave on purpose. */
  get libp2p(): ShoalLibp2p {
    return this.#libp2p;
  }

  get started(): boolean {
    return this.#state === 'started';
  }

  async start(): Promise<void> {
    if (this.#state !== 'new') {
      throw new NetError(NetErrorCode.alreadyStarted, `transport cannot start from state ${this.#state}; create a new one`, { state: this.#state });
    }
    this.#state = 'starting';
    const internals = this.#internals();
    if (typeof internals.score?.params?.topics !== 'object' || typeof internals.getMeshPeers !== 'function') {
      // Without these, rejected messages would not lower the sender's score: refuse to run blind.
      throw new NetError(NetErrorCode.invalidOptions, 'gossipsub internals changed: peer scoring cannot be configured per topic');
    }
    this.#libp2p.addEventListener('peer:connect', (ev) => this.#emitPeer('connect', ev.detail));
    this.#libp2p.addEventListener('peer:disconnect', (ev) => this.#emitPeer('disconnect', ev.detail));
    if (this.#opts.mdns.enabled) {
      this.#libp2p.addEventListener('peer:discovery', (ev) => {
        const id = ev.detail.id;
        if (this.#state !== 'started' || this.#libp2p.getConnections(id).length > 0) return;
        this.#libp2p.dial(id).catch((err: unknown) => this.#log?.debug({ peer: id.toString(), err: String(err) }, 'mdns dial failed'));
      });
    }
    try {
      await this.#libp2p.start();
    } catch (err) {
      const name = err instanceof Error ? err.name : 'Error';
      throw new NetError(NetErrorCode.listenFailed, `libp2p failed to start on ${this.#opts.listenAddrs.join(', ')}: ${name}: ${err instanceof Error ? err.message : String(err)}`, { listenAddrs: this.#opts.listenAddrs, reason: name }, { cause: err });
    }
    for (const protocol of this.#rr.protocols) await this.#rr.register(protocol);
    for (const topic of this.#subscribed) this.#gossipSubscribe(topic);
    this.#state = 'started';
  }

  async stop(): Promise<void> {
    if (this.#state === 'stopped' || this.#state === 'stopping') return;
    const wasRunning = this.#state !== 'new';
    this.#state = 'stopping';
    if (wasRunning) {
      // Let a leave announcement published just before stop reach the wire.
      if (this.#inflightPublishes.size > 0) {
        let timer: NodeJS.Timeout | undefined;
        await Promise.race([
          Promise.allSettled([...this.#inflightPublishes]),
          new Promise<void>((resolve) => {
            timer = setTimeout(resolve, this.#opts.stopDrainMs);
          }),
        ]);
        clearTimeout(timer);
      }
      this.#rr.closeChannels();
      await this.#libp2p.stop();
    }
    this.#state = 'stopped';
  }

  listenAddrs(): string[] {
    return this.#libp2p.getMultiaddrs().map((ma) => ma.toString());
  }

  // ---- PubSub ----

  subscribe(topic: string): void {
    if (this.#subscribed.has(topic)) return;
    this.#subscribed.add(topic);
    if (this.#state === 'started') this.#gossipSubscribe(topic);
  }

  unsubscribe(topic: string): void {
    if (!this.#subscribed.delete(topic)) return;
    if (this.#state === 'started') this.#libp2p.services.pubsub.unsubscribe(topic);
  }

  setTopicHandler(handler: TopicHandler): void {
    this.#topicHandler = handler;
  }

  publish(topic: string, data: Uint8Array): void {
    const kind = this.#topicKind(topic);
    if (this.#state !== 'started') {
      this.#metrics?.publishFailed(kind, 'not_started');
      return;
    }
    if (data.length > this.#opts.gossip.maxMessageBytes) {
      this.#metrics?.publishFailed(kind, 'too_large');
      this.#log?.warn({ topic, bytes: data.length, maxMessageBytes: this.#opts.gossip.maxMessageBytes }, 'refused to publish an oversized message');
      return;
    }
    const p = this.#libp2p.services.pubsub.publish(topic, data).then(
      () => this.#metrics?.messageOut(kind, data.length),
      (err: unknown) => {
        const reason = publishFailReason(err);
        this.#metrics?.publishFailed(kind, reason);
        if (reason === 'error') this.#log?.warn({ topic, err: String(err) }, 'publish failed');
      },
    );
    this.#inflightPublishes.add(p);
    void p.finally(() => this.#inflightPublishes.delete(p));
  }

  topicPeers(topic: string): PeerIdStr[] {
    if (this.#state !== 'started') return [];
    return this.#libp2p.services.pubsub.getSubscribers(topic).map((p) => p.toString());
  }

  /** Peers in our gossipsub mesh for `topic` (diagnostics, tests). */
  meshPeers(topic: string): PeerIdStr[] {
    if (this.#state !== 'started') return [];
    return this.#internals().getMeshPeers(topic);
  }

  /** Our gossipsub score for `peer` (diagnostics, tests). */
  peerScore(peer: PeerIdStr): number {
    return this.#internals().score.score(peer);
  }

  #internals(): GossipsubInternals {
    return this.#libp2p.services.pubsub as unknown as GossipsubInternals;
  }

  #gossipSubscribe(topic: string): void {
    if (!this.#prepared.has(topic)) {
      this.#prepared.add(topic);
      // Score params make a Reject cost the sender (gossipsub scores only listed topics).
      this.#internals().score.params.topics[topic] = topicScoreParams(this.#opts.scoring);
      this.#libp2p.services.pubsub.topicValidators.set(topic, this.#validate);
    }
    this.#libp2p.services.pubsub.subscribe(topic);
  }

  /** Gossipsub calls this once per new message id, before delivering or forwarding it. */
  readonly #validate = (source: PeerId, msg: Message): TopicValidatorResult => {
    const topic = msg.topic;
    const kind = this.#topicKind(topic);
    if (msg.type !== 'signed') {
      this.#metrics?.inboundDropped(kind, 'unsigned');
      return TopicValidatorResult.Reject;
    }
    const data = msg.data;
    this.#metrics?.messageIn(kind, data.length);
    if (data.length > this.#opts.gossip.maxMessageBytes) {
      this.#metrics?.inboundDropped(kind, 'too_large');
      return TopicValidatorResult.Reject;
    }
    if (!this.#subscribed.has(topic) || this.#state !== 'started') {
      this.#metrics?.inboundDropped(kind, 'not_subscribed');
      return TopicValidatorResult.Ignore;
    }
    const handler = this.#topicHandler;
    if (handler === null) {
      this.#metrics?.inboundDropped(kind, 'no_handler');
      return TopicValidatorResult.Ignore;
    }
    let verdict: Verdict;
    try {
      verdict = handler({ topic, from: source.toString(), origin: msg.from.toString(), data });
    } catch (err) {
      this.#metrics?.inboundDropped(kind, 'handler_error');
      this.#log?.warn({ topic, err: String(err) }, 'topic handler threw; message ignored');
      return TopicValidatorResult.Ignore;
    }
    if (verdict !== 'accept') {
      if (verdict === 'reject' || verdict === 'ignore') {
        this.#metrics?.inboundDropped(kind, verdict);
      } else {
        this.#metrics?.inboundDropped(kind, 'handler_error');
        return TopicValidatorResult.Ignore;
      }
    }
    return VERDICT[verdict];
  };

  // ---- RequestResponse ----

  async request(peer: PeerIdStr, protocol: string, data: Uint8Array, opts: RequestOptions): Promise<Uint8Array> {
    if (this.#state !== 'started') {
      throw new NetError(NetErrorCode.notStarted, 'transport is not started', { state: this.#state });
    }
    return this.#rr.request(parsePeerId(peer), protocol, data, opts);
  }

  async send(peer: PeerIdStr, protocol: string, data: Uint8Array, opts: { timeoutMs: number }): Promise<void> {
    if (this.#state !== 'started') {
      throw new NetError(NetErrorCode.notStarted, 'transport is not started', { state: this.#state });
    }
    return this.#rr.send(parsePeerId(peer), protocol, data, opts);
  }

  handle(protocol: string, handler: RequestHandler): void {
    this.#rr.addHandler(protocol, handler);
    if (this.#state === 'started') {
      this.#rr.register(protocol).catch((err: unknown) => this.#log?.warn({ protocol, err: String(err) }, 'registering a protocol handler failed'));
    }
  }

  // ---- PeerEvents ----

  onPeerEvent(listener: (ev: PeerEvent) => void): void {
    this.#peerListeners.push(listener);
  }

  connectedPeers(): PeerIdStr[] {
    return this.#libp2p.getPeers().map((p) => p.toString());
  }

  async dial(peer: PeerIdStr, addrs: readonly string[], opts: { signal?: AbortSignal } = {}): Promise<void> {
    if (this.#state !== 'started') throw new NetError(NetErrorCode.notStarted, 'transport is not started', { state: this.#state });
    const id = parsePeerId(peer);
    const mas = addrs.map(parseMultiaddr);
    for (const ma of mas) {
      const inAddr = ma.getComponents().find((c) => c.name === 'p2p')?.value;
      if (inAddr !== undefined && inAddr !== peer) {
        throw new NetError(NetErrorCode.invalidAddr, `address ${ma.toString()} names peer ${inAddr}, not ${peer}`, { peer, addr: ma.toString() });
      }
    }
    if (mas.length > 0) await this.#libp2p.peerStore.merge(id, { multiaddrs: mas });
    try {
      await this.#libp2p.dial(id, { signal: opts.signal });
    } catch (err) {
      throw this.#dialError(err, { peer }, opts.signal);
    }
  }

  /** Dials a bare multiaddr (a `--join` address, maybe without `/p2p/…`) and returns who answered. */
  async dialAddr(addr: string, opts: { signal?: AbortSignal } = {}): Promise<PeerIdStr> {
    if (this.#state !== 'started') throw new NetError(NetErrorCode.notStarted, 'transport is not started', { state: this.#state });
    const ma = parseMultiaddr(addr);
    try {
      const conn = await this.#libp2p.dial(ma, { signal: opts.signal });
      return conn.remotePeer.toString();
    } catch (err) {
      throw this.#dialError(err, { addr }, opts.signal);
    }
  }

  async hangUp(peer: PeerIdStr): Promise<void> {
    if (this.#state !== 'started') return;
    await this.#libp2p.hangUp(parsePeerId(peer));
  }

  #dialError(err: unknown, details: Record<string, unknown>, signal: AbortSignal | undefined): NetError {
    if (signal?.aborted === true) return new NetError(NetErrorCode.aborted, 'dial aborted by caller', details, { cause: err });
    const name = err instanceof Error ? err.name : 'Error';
    return new NetError(NetErrorCode.unreachable, `dial failed: ${name}: ${err instanceof Error ? err.message : String(err)}`, { ...details, reason: name }, { cause: err });
  }

  #emitPeer(type: PeerEvent['type'], id: PeerId): void {
    this.#metrics?.peerCount(this.#libp2p.getPeers().length);
    if (this.#peerListeners.length === 0) return;
    const ev: PeerEvent = { type, peer: id.toString() };
    for (const l of this.#peerListeners) {
      try {
        l(ev);
      } catch (err) {
        this.#log?.warn({ err: String(err) }, 'peer event listener threw');
      }
    }
  }
}
