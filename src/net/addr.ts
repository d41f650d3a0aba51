import type { PeerIdStr } from '../core/transport.ts';

const P2P_SUFFIX = /\/p2p\/([^/]+)$/;

/** The peer id a multiaddr ends with (`…/p2p/<id>`), or null when it names none. */
export function peerIdInAddr(addr: string): PeerIdStr | null {
  return P2P_SUFFIX.exec(addr)?.[1] ?? null;
}
