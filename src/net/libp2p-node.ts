import { noise } from '@chainsafe/libp2p-noise';
import { yamux } from '@chainsafe/libp2p-yamux';
import { gossipsub, type GossipSub } from '@libp2p/gossipsub';
import { identify, type Identify } from '@libp2p/identify';
import type { PrivateKey } from '@libp2p/interface';
import { mdns } from '@libp2p/mdns';
import { ping, type Ping } from '@libp2p/ping';
import { preSharedKey } from '@libp2p/pnet';
import { tcp } from '@libp2p/tcp';
import { createLibp2p, type Libp2p, type Libp2pInit } from 'libp2p';
import { gossipsubInit } from './gossip-config.ts';
import { parseSwarmKey, formatSwarmKey } from './swarm-key.ts';
import type { NetOptions } from './options.ts';
import { installQuietLengthPrefixDecoder } from './length-prefix-decoder.ts';
import { installLazyYamuxWindowUpdates } from './yamux-window.ts';

/** The services every Shoal libp2p node runs. */
export type ShoalServices = {
  identify: Identify;
  ping: Ping;
  pubsub: GossipSub;
};

export type ShoalLibp2p = Libp2p<ShoalServices>;

export interface Libp2pNodeModules {
  /** The node's identity (see `loadOrCreateIdentity`). */
  privateKey: PrivateKey;
  /**
   * Swarm key file text (see `readSwarmKeyFile`). With a key, every connection is wrapped in
   * pnet and a peer without the same key fails the handshake before noise. `null` runs an open
   * network: only for tests and single-host development.
   */
  swarmKey: Uint8Array | null;
}

/** Protocol prefix for our identify/ping, so we do not answer generic libp2p probes as IPFS would. */
export const SHOAL_PROTOCOL_PREFIX = 'shoal';

/**
 * A libp2p node with TCP, pnet, noise, yamux, identify, ping and gossipsub, not yet started.
 * `Libp2pTransport` wraps it; nothing outside `src/net` sees libp2p.
 */
export async function createLibp2pNode(opts: NetOptions, modules: Libp2pNodeModules): Promise<ShoalLibp2p> {
  // Validate here too: a malformed key must fail with a NET_ error, not deep inside pnet.
  const psk = modules.swarmKey === null ? null : formatSwarmKey(parseSwarmKey(modules.swarmKey));
  const peerDiscovery: NonNullable<Libp2pInit['peerDiscovery']> = [];
  if (opts.mdns.enabled) {
    peerDiscovery.push(mdns({ interval: opts.mdns.intervalMs, serviceTag: opts.mdns.serviceTag }));
  }
  const c = opts.connections;
  installLazyYamuxWindowUpdates();
  installQuietLengthPrefixDecoder();
  return createLibp2p({
    start: false,
    privateKey: modules.privateKey,
    addresses: {
      listen: opts.listenAddrs,
      ...(opts.announceAddrs.length > 0 ? { announce: opts.announceAddrs } : {}),
    },
    transports: [tcp()],
    connectionEncrypters: [noise()],
    streamMuxers: [yamux()],
    ...(psk === null ? {} : { connectionProtector: preSharedKey({ psk, timeout: c.pnetHandshakeTimeoutMs }) }),
    connectionManager: {
      maxConnections: c.maxConnections,
      dialTimeout: c.dialTimeoutMs,
      allow: c.limitExemptAddrs,
      inboundConnectionThreshold: c.inboundConnectionsPerSecPerHost,
    },
    // The monitor pings on its own protocol id; with ours, it reaches the ping service
    // instead of failing negotiation (UnsupportedProtocolError) on every connection.
    connectionMonitor: { pingInterval: c.monitorPingIntervalMs, protocolPrefix: SHOAL_PROTOCOL_PREFIX },
    peerDiscovery,
    services: {
      identify: identify({ protocolPrefix: SHOAL_PROTOCOL_PREFIX }),
      ping: ping({ protocolPrefix: SHOAL_PROTOCOL_PREFIX }),
      pubsub: gossipsub(gossipsubInit(opts.gossip, opts.scoring)),
    },
  });
}
