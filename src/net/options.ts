import { NetError, NetErrorCode } from './errors.ts';

/**
 * Options of the libp2p adapter. Each default says its unit and why; the agent's config
 * layer overrides them, and tests shrink timeouts.
 */

export interface GossipOptions {
  /** Target mesh degree per topic. */
  D: number;
  /** Below this many mesh peers the heartbeat grafts more. */
  Dlo: number;
  /** Above this many mesh peers the heartbeat prunes. */
  Dhi: number;
  /** Peers that receive IHAVE gossip per heartbeat. */
  Dlazy: number;
  heartbeatIntervalMs: number;
  /** How long a message id stays in the duplicate filter. */
  seenTtlMs: number;
  /** How long to keep fanout state for a topic we publish on without subscribing. */
  fanoutTtlMs: number;
  /** Largest message payload accepted or published; larger ones are rejected (sender penalised). */
  maxMessageBytes: number;
  /** Largest gossipsub RPC frame read from a peer; a larger frame drops that peer's stream. */
  maxRpcBytes: number;
  /** Send our own messages to every subscribed peer instead of the mesh only. */
  floodPublish: boolean;
}

export interface PeerScoringOptions {
  /** P4 weight: score change per (invalid messages)², per topic. Must be negative. */
  invalidMessageWeight: number;
  /** Half-life of the invalid-message counter. */
  invalidMessageHalfLifeMs: number;
  /** P1: score per second in a topic mesh, capped by `timeInMeshCapScore`. */
  timeInMeshScorePerSec: number;
  timeInMeshCapScore: number;
  /** Below this score we stop gossiping (IHAVE/IWANT) with the peer. */
  gossipThreshold: number;
  /** Below this score we do not publish to the peer. */
  publishThreshold: number;
  /** Below this score everything the peer sends is ignored. */
  graylistThreshold: number;
  /** P6 weight for many peers behind one IP. 0 disables. */
  ipColocationWeight: number;
}

export interface RequestLimits {
  /** Largest request or response frame. */
  maxFrameBytes: number;
  /** A request handler that takes longer is aborted, and the requester gets NET_TIMEOUT as its remote code. */
  handlerTimeoutMs: number;
  /** Requests a peer may have in flight to us on one protocol (its channel), and libp2p's inbound stream limit. */
  maxInboundStreams: number;
  /** Requests we may have in flight to one peer on one protocol, and libp2p's outbound stream limit. */
  maxOutboundStreams: number;
}

export interface ConnectionOptions {
  maxConnections: number;
  dialTimeoutMs: number;
  /** Multiaddr prefixes (`/ip4/a.b.c.d/ipcidr/n`) exempt from connection limits and rate limits. */
  limitExemptAddrs: string[];
  /** Inbound connections accepted per second from one IP before refusing. */
  inboundConnectionsPerSecPerHost: number;
  /** The pnet nonce exchange must finish within this. */
  pnetHandshakeTimeoutMs: number;
  /** libp2p's connection monitor pings every connection this often, on a new stream, and closes one that does not answer. */
  monitorPingIntervalMs: number;
}

export interface MdnsOptions {
  enabled: boolean;
  intervalMs: number;
  serviceTag: string;
}

export interface NetOptions {
  /** Multiaddrs to listen on. */
  listenAddrs: string[];
  /** Multiaddrs to advertise instead of the listen addresses (NAT, 0.0.0.0); empty: advertise listen addrs. */
  announceAddrs: string[];
  mdns: MdnsOptions;
  gossip: GossipOptions;
  scoring: PeerScoringOptions;
  requests: RequestLimits;
  connections: ConnectionOptions;
  /** On stop, wait at most this long for in-flight publishes (a leave announcement) to go out. */
  stopDrainMs: number;
}

export const defaultGossipOptions: GossipOptions = {
  D: 6, // count; gossipsub spec default, ~log2 of a few hundred peers
  Dlo: 4, // count; spec default
  Dhi: 12, // count; spec default
  Dlazy: 6, // count; spec default
  heartbeatIntervalMs: 1000, // ms; spec default; meshes also graft on subscribe, so this only bounds repair time
  seenTtlMs: 120_000, // ms; spec default; longer than any propagation, short enough to bound the cache
  fanoutTtlMs: 60_000, // ms; spec default
  maxMessageBytes: 64 * 1024, // bytes; a host record is ~1 KB and a cell summary a few KB, so 64 KiB caps abuse with headroom
  maxRpcBytes: 1024 * 1024, // bytes; an IWANT reply batches several messages into one RPC, so well above maxMessageBytes
  floodPublish: false, // flood publishing multiplies every publisher's upload by its connected subscribers; the mesh suffices
};

export const defaultPeerScoringOptions: PeerScoringOptions = {
  invalidMessageWeight: -20, // score per invalid²; 1 → negative (pruned from mesh), 3 → -180 (graylisted)
  invalidMessageHalfLifeMs: 300_000, // ms; 5 min, so a bad peer stays graylisted for minutes, and a one-off recovers
  timeInMeshScorePerSec: 0.1, // score/s; a steady mesh peer earns credit slowly…
  timeInMeshCapScore: 10, // score; …but never enough to outweigh one invalid message (-20)
  gossipThreshold: -10, // gossipsub default
  publishThreshold: -50, // gossipsub default
  graylistThreshold: -80, // gossipsub default
  ipColocationWeight: 0, // disabled: pnet already gates membership, and test clusters share 127.0.0.1
};

export const defaultRequestLimits: RequestLimits = {
  maxFrameBytes: 1024 * 1024, // bytes; a full cell state transfer (~100 records of ~1 KB) fits with room
  handlerTimeoutMs: 10_000, // ms; a handler slower than this is stuck
  maxInboundStreams: 64, // in flight per peer and protocol; a peer sends few concurrent requests, more is abuse
  maxOutboundStreams: 64, // in flight per peer and protocol; matches inbound
};

export const defaultConnectionOptions: ConnectionOptions = {
  maxConnections: 300, // libp2p default; a cell plus contacts needs far fewer
  dialTimeoutMs: 5_000, // ms; loopback and LAN dials take milliseconds, so 5 s means unreachable
  limitExemptAddrs: ['/ip4/127.0.0.0/ipcidr/8', '/ip6/::1/ipcidr/128'], // local processes are not a remote flood
  inboundConnectionsPerSecPerHost: 5, // libp2p default; one agent per host rarely reconnects faster
  pnetHandshakeTimeoutMs: 1_000, // ms; @libp2p/pnet default; the nonce exchange is one round trip
  // 60 s, not libp2p's 10 s: each ping opens and negotiates a stream, which was an idle agent's
  // largest source of frames after gossip's own messages; SWIM already finds dead peers in
  // seconds, so this only sweeps connections left half open.
  monitorPingIntervalMs: 60_000,
};

export const defaultMdnsOptions: MdnsOptions = {
  enabled: false, // off: multicast leaks presence and is often filtered; opt-in for LANs
  intervalMs: 10_000, // ms; @libp2p/mdns default
  serviceTag: '_shoal-p2p._udp.local', // our own tag so plain IPFS nodes on the LAN are not dialled
};

export const defaultNetOptions: NetOptions = {
  listenAddrs: ['/ip4/127.0.0.1/tcp/0'], // loopback, any port: an unconfigured agent exposes nothing
  announceAddrs: [],
  mdns: defaultMdnsOptions,
  gossip: defaultGossipOptions,
  scoring: defaultPeerScoringOptions,
  requests: defaultRequestLimits,
  connections: defaultConnectionOptions,
  stopDrainMs: 500, // ms; signing plus one write per peer takes a few ms; bound shutdown
};

export type NetOptionsInput = Partial<Omit<NetOptions, 'mdns' | 'gossip' | 'scoring' | 'requests' | 'connections'>> & {
  mdns?: Partial<MdnsOptions>;
  gossip?: Partial<GossipOptions>;
  scoring?: Partial<PeerScoringOptions>;
  requests?: Partial<RequestLimits>;
  connections?: Partial<ConnectionOptions>;
};

/** Defaults overlaid with `input`, validated. */
export function resolveNetOptions(input: NetOptionsInput = {}): NetOptions {
  const opts: NetOptions = {
    ...defaultNetOptions,
    ...input,
    mdns: { ...defaultMdnsOptions, ...input.mdns },
    gossip: { ...defaultGossipOptions, ...input.gossip },
    scoring: { ...defaultPeerScoringOptions, ...input.scoring },
    requests: { ...defaultRequestLimits, ...input.requests },
    connections: { ...defaultConnectionOptions, ...input.connections },
  };
  validateNetOptions(opts);
  return opts;
}

function bad(field: string, message: string, value: unknown): never {
  throw new NetError(NetErrorCode.invalidOptions, `net option ${field}: ${message}`, { field, value });
}

function positiveInt(field: string, v: number): void {
  if (!Number.isSafeInteger(v) || v <= 0) bad(field, 'must be a positive integer', v);
}

export function validateNetOptions(o: NetOptions): void {
  const g = o.gossip;
  for (const k of ['D', 'Dlo', 'Dhi', 'Dlazy', 'heartbeatIntervalMs', 'seenTtlMs', 'fanoutTtlMs', 'maxMessageBytes', 'maxRpcBytes'] as const) {
    positiveInt(`gossip.${k}`, g[k]);
  }
  if (!(g.Dlo <= g.D && g.D <= g.Dhi)) bad('gossip.D', `need Dlo <= D <= Dhi, got ${g.Dlo} <= ${g.D} <= ${g.Dhi}`, g.D);
  if (g.maxRpcBytes < g.maxMessageBytes + 1024) bad('gossip.maxRpcBytes', 'must exceed maxMessageBytes plus RPC overhead (1 KiB)', g.maxRpcBytes);
  const s = o.scoring;
  if (!(s.invalidMessageWeight < 0)) bad('scoring.invalidMessageWeight', 'must be negative, or rejects would not penalise', s.invalidMessageWeight);
  positiveInt('scoring.invalidMessageHalfLifeMs', s.invalidMessageHalfLifeMs);
  if (!(s.timeInMeshScorePerSec >= 0 && s.timeInMeshCapScore >= 0)) bad('scoring.timeInMesh', 'must be >= 0', s.timeInMeshScorePerSec);
  if (!(s.graylistThreshold <= s.publishThreshold && s.publishThreshold <= s.gossipThreshold && s.gossipThreshold <= 0)) {
    bad('scoring.thresholds', 'need graylist <= publish <= gossip <= 0', [s.graylistThreshold, s.publishThreshold, s.gossipThreshold]);
  }
  if (s.ipColocationWeight > 0) bad('scoring.ipColocationWeight', 'must be <= 0', s.ipColocationWeight);
  for (const k of ['maxFrameBytes', 'handlerTimeoutMs', 'maxInboundStreams', 'maxOutboundStreams'] as const) positiveInt(`requests.${k}`, o.requests[k]);
  for (const k of ['maxConnections', 'dialTimeoutMs', 'inboundConnectionsPerSecPerHost', 'pnetHandshakeTimeoutMs', 'monitorPingIntervalMs'] as const) {
    positiveInt(`connections.${k}`, o.connections[k]);
  }
  positiveInt('mdns.intervalMs', o.mdns.intervalMs);
  if (!Number.isFinite(o.stopDrainMs) || o.stopDrainMs < 0) bad('stopDrainMs', 'must be >= 0', o.stopDrainMs);
  if (o.listenAddrs.length === 0) bad('listenAddrs', 'need at least one listen address', o.listenAddrs);
}
