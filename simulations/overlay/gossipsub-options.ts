/**
 * Parameters of the gossipsub overlay model. Protocol constants follow @libp2p/gossipsub 17
 * (`node_modules/@libp2p/gossipsub/dist/src/constants.d.ts`) and Shoal's adapter
 * (`src/net/options.ts`: floodPublish off, content-hash message ids). Wire sizes are
 * estimates of what libp2p adds around a payload; they matter because the per-host budget
 * is in bytes.
 */
export interface GossipsubModelOptions {
  /** Target mesh degree per topic. */
  D: number;
  /** Below this degree the heartbeat grafts back up to D. */
  Dlo: number;
  /** Above this degree the heartbeat prunes down to D. */
  Dhi: number;
  /** Minimum number of non-mesh peers that get IHAVE gossip per heartbeat and topic. */
  Dlazy: number;
  /** Fraction of non-mesh peers that get IHAVE gossip, when larger than Dlazy. */
  gossipFactor: number;
  heartbeatMs: number;
  /** Heartbeats a message id stays advertised in IHAVE gossip. */
  historyGossip: number;
  /** Heartbeats a message stays in the message cache (answerable by IWANT). */
  historyLength: number;
  /** Messages at least this large make receivers send IDONTWANT to their mesh (gossipsub v1.2). */
  idontwantMinBytes: number;
  /** Bytes libp2p adds to one message copy: signature, signer key/peer id, seqno, topic, protobuf, yamux and noise framing. */
  dataOverheadBytes: number;
  /** Bytes of a control-only RPC (IHAVE/IWANT/GRAFT/PRUNE/IDONTWANT) before message ids. */
  controlBaseBytes: number;
  /** Bytes per message id in IHAVE/IWANT/IDONTWANT. */
  controlPerIdBytes: number;
  /** CPU time between receiving a copy and forwarding it: decode, signature check, validator. */
  hopProcessingMs: number;
  /** A host keeps connections to at most this many subscribers of one topic; caps lazy-gossip fan-out. */
  connectedPeersPerTopic: number;
  /** How long until peers notice a crashed host's connections are dead and drop it from their meshes. */
  deadPeerDetectMs: number;
  /**
   * GRAFT D peers at subscribe time (gossipsub's join() when it already knows subscribed peers),
   * or leave the mesh to the next heartbeat's Dlo repair (join() before peers are connected).
   */
  graftOnJoin: boolean;
}

export const defaultGossipsubModelOptions: GossipsubModelOptions = {
  D: 6, // count; gossipsub default, also Shoal's (src/net/options.ts)
  Dlo: 4, // count; gossipsub default
  Dhi: 12, // count; gossipsub default
  Dlazy: 6, // count; gossipsub default
  gossipFactor: 0.25, // fraction; gossipsub default
  heartbeatMs: 1000, // ms; gossipsub default
  historyGossip: 3, // heartbeats; gossipsub default (mcacheGossip)
  historyLength: 5, // heartbeats; gossipsub default (mcacheLength)
  idontwantMinBytes: 512, // bytes; gossipsub 17 GossipsubIdontwantMinDataSize
  dataOverheadBytes: 170, // bytes; 64 signature + 38 peer id + 8 seqno + ~25 topic + ~10 protobuf + ~25 yamux/noise/length framing
  controlBaseBytes: 60, // bytes; RPC + control protobuf + topic + yamux/noise framing
  controlPerIdBytes: 22, // bytes; a 20-byte content-hash id plus its protobuf tag
  hopProcessingMs: 1.0, // ms; FACTS.md measured ~1.6 ms of CPU per delivered message, about half before forwarding
  // count; Shoal asks for 8 cell connections and 4 remote ones (src/gossip options), and peers dial it back:
  // ~20 connected subscribers per topic, so IHAVE goes to max(Dlazy, 0.25 × (20 − D)) = 6 peers.
  connectedPeersPerTopic: 20,
  deadPeerDetectMs: 10_000, // ms; a powered-off host sends no RST, so libp2p notices at its next ping / keepalive timeout
  // false: a Shoal host subscribes at start, before its cell connections exist, so join() finds no peers and the
  // heartbeat builds the mesh; calibration against real gossipsub (calibration/calibrate.ts) matches this better.
  graftOnJoin: false,
};
