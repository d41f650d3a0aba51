/**
 * The narrow network interfaces the protocol core is written against. Two implementations
 * exist: the libp2p adapter (`src/net`) and the simulator's virtual network
 * (`simulations/`). One compliance suite (`test/compliance/transport-suite.ts`) runs against
 * both, the way js-libp2p's interface-compliance-tests do.
 */

/** A libp2p peer id in its string form (base58btc `12D3Koo…`), or a synthetic id in the simulator. */
export type PeerIdStr = string;

/** Gossipsub's validation outcome: `accept` delivers and forwards, `reject` penalises the sender, `ignore` drops quietly. */
export type Verdict = 'accept' | 'reject' | 'ignore';

export interface TopicMessage {
  readonly topic: string;
  /** The peer that handed us this copy (gossipsub's propagation source). */
  readonly from: PeerIdStr;
  /** The peer that signed the message (gossipsub StrictSign `from`); the validator checks it against the payload's origin. */
  readonly origin: PeerIdStr;
  readonly data: Uint8Array;
}

/**
 * Called for every message on a subscribed topic, before gossipsub forwards it. It must be
 * synchronous and cheap: the verdict decides whether the message travels further.
 */
export type TopicHandler = (msg: TopicMessage) => Verdict;

export interface PubSub {
  subscribe(topic: string): void;
  unsubscribe(topic: string): void;
  /** Fire and forget: failures (no peers yet, message too large) are counted by the adapter, not thrown. */
  publish(topic: string, data: Uint8Array): void;
  setTopicHandler(handler: TopicHandler): void;
  /** Peers we know to be subscribed to `topic`. */
  topicPeers(topic: string): PeerIdStr[];
}

export interface RequestOptions {
  timeoutMs: number;
  signal?: AbortSignal;
}

/** Answers one request; throwing sends nothing and the requester sees a failure. */
export type RequestHandler = (from: PeerIdStr, data: Uint8Array, signal: AbortSignal) => Promise<Uint8Array> | Uint8Array;

/** A request and its answer; many may share one stream (the libp2p adapter keeps one per peer and protocol). */
export interface RequestResponse {
  request(peer: PeerIdStr, protocol: string, data: Uint8Array, opts: RequestOptions): Promise<Uint8Array>;
  /**
   * A one-way message to the peer's handler for `protocol`, whose answer is dropped: resolves
   * once it is on its way, like a datagram, with no word of its delivery. Rejects with a NET_
   * code when it cannot leave (too large, peer unreachable, protocol not served); `timeoutMs`
   * bounds the wait for a way to the peer.
   */
  send(peer: PeerIdStr, protocol: string, data: Uint8Array, opts: { timeoutMs: number }): Promise<void>;
  handle(protocol: string, handler: RequestHandler): void;
}

export type PeerEvent = { readonly type: 'connect' | 'disconnect'; readonly peer: PeerIdStr };

export interface PeerEvents {
  onPeerEvent(listener: (ev: PeerEvent) => void): void;
  connectedPeers(): PeerIdStr[];
  /** Best effort: resolves when connected, rejects with the dial error. */
  dial(peer: PeerIdStr, addrs: readonly string[], opts?: { signal?: AbortSignal }): Promise<void>;
  hangUp(peer: PeerIdStr): Promise<void>;
}

export interface Transport extends PubSub, RequestResponse, PeerEvents {
  readonly self: PeerIdStr;
  /** Addresses other peers can dial us on (multiaddr strings in the agent). */
  listenAddrs(): string[];
  start(): Promise<void>;
  stop(): Promise<void>;
}
