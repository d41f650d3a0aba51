import type { Rng } from '../core/rng.ts';
import type { PeerIdStr } from '../core/transport.ts';
import type { Membership } from './membership.ts';
import type { SummaryStore } from './summary-store.ts';

export interface ConnectionPlan {
  /** Peers to stay connected to, with the addresses to dial. */
  readonly want: Map<PeerIdStr, readonly string[]>;
  /** How many of them are outside the own cell. */
  readonly remote: number;
}

/**
 * Whom to stay connected to: the ring successors and the aggregator (talked to every
 * second), peers already connected while they stay alive (no churn for nothing), a random
 * sample of the cell up to `cellConnections` (so the cell topic's mesh of D = 6 can form),
 * and up to `remoteConnections` contacts of random other cells (district and global
 * meshes). Bounded by cellConnections + remoteConnections.
 */
export function planConnections(args: {
  self: PeerIdStr;
  ownCell: number;
  cellBits: number;
  monitors: number;
  cellConnections: number;
  remoteConnections: number;
  connected: ReadonlySet<PeerIdStr>;
  membership: Membership;
  store: SummaryStore;
  rng: Rng;
}): ConnectionPlan {
  const { self, membership, rng, store } = args;
  const want = new Map<PeerIdStr, readonly string[]>();
  const addMember = (peer: PeerIdStr): void => {
    if (peer === self || want.size >= args.cellConnections) return;
    const m = membership.get(peer);
    if (m) want.set(peer, m.record.addrs);
  };
  for (const p of membership.successors(args.monitors)) addMember(p);
  const agg = membership.lowest(1)[0];
  if (agg) addMember(agg.record.origin);
  for (const p of args.connected) if (membership.statusOf(p) === 'alive') addMember(p);
  for (const p of membership.randomAlive(args.cellConnections, null, rng)) addMember(p);
  const slots = 2 ** args.cellBits;
  let remote = 0;
  for (let tries = 0; tries < 4 * args.remoteConnections && remote < args.remoteConnections && store.size > 0; tries++) {
    const s = store.get(rng.int(slots));
    if (!s || s.cell === args.ownCell || s.contacts.length === 0) continue;
    const c = s.contacts[rng.int(s.contacts.length)]!;
    if (c.peer !== self && !want.has(c.peer)) {
      want.set(c.peer, c.addrs);
      remote++;
    }
  }
  return { want, remote };
}
