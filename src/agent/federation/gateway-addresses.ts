import type { PeerIdStr } from '../../core/transport.ts';
import { peerIdInAddr } from '../../net/addr.ts';

/** A cluster's gateways as its agents reach them over the mesh. */
export interface GatewayAddress {
  readonly peer: PeerIdStr;
  readonly addrs: readonly string[];
}

/** Entry agents → a gateway of their own cluster, over the cluster's mesh (same private network). */
export const FEDERATION_ENTRY_PROTOCOL = '/shoal/federation/entry/2.0.0';

/** Groups `[federation] gateways` multiaddrs by peer id, in config order (the config schema already checked the suffix). */
export function parseGatewayAddrs(multiaddrs: readonly string[]): GatewayAddress[] {
  const byPeer = new Map<PeerIdStr, string[]>();
  for (const addr of multiaddrs) {
    const peer = peerIdInAddr(addr);
    if (peer === null) continue;
    const list = byPeer.get(peer) ?? [];
    list.push(addr);
    byPeer.set(peer, list);
  }
  return [...byPeer].map(([peer, addrs]) => ({ peer, addrs }));
}
