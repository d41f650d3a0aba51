import type { Rng } from '../core/rng.ts';
import type { PeerIdStr } from '../core/transport.ts';
import type { Membership } from './membership.ts';
import type { SummaryStore } from './summary-store.ts';

export interface ConnectionPlan {
  /** Peers to stay connected to, with the addresses to dial. */
  readonly want: Map<PeerIdStr, readonly string[]>;
  /** The contacts of other cells among them, each with its cell's slot in the summary store. */
  readonly remote: Map<PeerIdStr, number>;
}

/**
 * Whom to stay connected to: the ring successors and the aggregator (talked to every
 * second), peers already connected while they stay alive (no churn for nothing), a random
 * sample of the cell up to `cellConnections` (so the cell topic's mesh of D = 6 can form),
 * and up to `remoteConnections` contacts of other cells (district and global meshes).
 * Bounded by cellConnections + remoteConnections.
 *
 * A remote contact is kept while its cell's summary still lists it; only the missing ones
 * are drawn at random. Drawn afresh at every refresh, they made a real agent dial new peers
 * every 30 s while nothing closed the old links, until libp2p pruned at maxConnections,
 * and churned the district and global meshes for nothing.
 */
export function planConnections(args: {
  self: PeerIdStr;
  ownCell: number;
  cellBits: number;
  monitors: number;
  cellConnections: number;
  remoteConnections: number;
  connected: ReadonlySet<PeerIdStr>;
  /** The remote contacts of the last plan, each with its cell's slot. */
  remoteKept: ReadonlyMap<PeerIdStr, number>;
  membership: Membership;
  store: SummaryStore;
  rng: Rng;
}): ConnectionPlan {
  const { self, membership, rng, store } = args;
  const want = new Map<PeerIdStr, readonly string[]>();
  // The cheap bound first: comparing a peer id with ours reads both strings, a likely cache miss.
  const addMember = (peer: PeerIdStr): void => {
    if (want.size >= args.cellConnections || peer === self) return;
    const m = membership.get(peer);
    if (m) want.set(peer, m.record.addrs);
  };
  for (const p of membership.successors(args.monitors)) addMember(p);
  const agg = membership.lowest(1)[0];
  if (agg) addMember(agg.record.origin);
  for (const p of args.connected) {
    if (want.size >= args.cellConnections) break;
    if (membership.statusOf(p) === 'alive') addMember(p);
  }
  // Drawn only while there is room: once the links we keep fill the cell's share, draws
  // were thrown away (at 100k simulated hosts, a third of this function's time).
  if (want.size < args.cellConnections) for (const p of membership.randomAlive(args.cellConnections, null, rng)) addMember(p);
  const slots = 2 ** args.cellBits;
  const remote = new Map<PeerIdStr, number>();
  const addRemote = (peer: PeerIdStr, addrs: readonly string[], cell: number): void => {
    if (remote.size >= args.remoteConnections || peer === self || want.has(peer)) return;
    want.set(peer, addrs);
    remote.set(peer, cell);
  };
  // Cells are remembered by their slot at the current cellBits; after a change of layout
  // a slot may hold another cell's summary, and a contact it does not list is dropped.
  for (const [peer, slot] of args.remoteKept) {
    const s = slot < slots ? store.get(slot) : undefined;
    if (!s || s.cell === args.ownCell) continue;
    const listed = s.contacts.find((c) => c.peer === peer);
    if (listed) addRemote(peer, listed.addrs, slot);
  }
  for (let tries = 0; tries < 4 * args.remoteConnections && remote.size < args.remoteConnections && store.size > 0; tries++) {
    const slot = rng.int(slots);
    const s = store.get(slot);
    if (!s || s.cell === args.ownCell || s.contacts.length === 0) continue;
    const c = s.contacts[rng.int(s.contacts.length)]!;
    addRemote(c.peer, c.addrs, slot);
  }
  return { want, remote };
}
