import { hash32 } from '../../core/hash.ts';
import type { PeerIdStr } from '../../core/transport.ts';
import type { MemberStatus, MemberView } from '../../gossip/records.ts';

/**
 * Who keeps copies of a host's job records, and who moves them when it fails.
 *
 * A cell's ring orders its members by `hash32(peer id)` (ties by id). A host's replica holders
 * are the first `k` members after it on the ring that are up (alive or suspect: a suspicion is
 * often refuted, and moving replicas on every suspicion would churn), preferring other zones
 * than the host's. Every member of the cell computes the same list from the same view. The
 * position of a host depends on its id alone, so the successors of a failed host can be found
 * after gossip has forgotten it.
 */

export function isUp(status: MemberStatus | undefined): boolean {
  return status === 'alive' || status === 'suspect';
}

interface RingEntry {
  readonly peer: PeerIdStr;
  readonly hash: number;
}

function before(a: RingEntry, b: RingEntry): boolean {
  return a.hash < b.hash || (a.hash === b.hash && a.peer < b.peer);
}

/**
 * The `k` up members that follow `owner` on the ring of `members` (the owner's cell), in ring
 * order, the owner excluded. Fewer when the cell has fewer up members.
 *
 * Zone-aware: walking the ring from the owner, members of another zone than the owner come
 * first (each zone once, then any other zone), and the owner's own zone only when the cell has
 * no one else. So a zone failure takes a host's replicas with it only when the whole cell is in
 * that zone: with holders picked by hash alone, a 10% zone failure would kill the owner and both
 * holders of ~1% of its hosts. `ownerZone` defaults to the owner's record in `members`.
 */
export function replicaHolders(owner: PeerIdStr, members: Iterable<MemberView>, k: number, ownerZone?: string): PeerIdStr[] {
  if (k <= 0) return [];
  const start: RingEntry = { peer: owner, hash: hash32(owner) };
  const ring: (RingEntry & { zone: string })[] = [];
  let zoneOfOwner = ownerZone;
  for (const m of members) {
    const peer = m.record.origin;
    if (peer === owner) {
      zoneOfOwner ??= m.record.zone;
      continue;
    }
    if (!isUp(m.status)) continue;
    ring.push({ peer, hash: hash32(peer), zone: m.record.zone });
  }
  ring.sort((a, b) => (before(a, b) ? -1 : before(b, a) ? 1 : 0));
  // First entry after the owner's position, wrapping around.
  let first = ring.length;
  for (let i = 0; i < ring.length; i++) {
    if (before(start, ring[i]!)) {
      first = i;
      break;
    }
  }
  const out: PeerIdStr[] = [];
  const picked = new Set<number>();
  const zones = new Set<string>();
  // Pass 0: a new zone, not the owner's; pass 1: any zone but the owner's; pass 2: anyone.
  for (let pass = 0; pass < 3 && out.length < k; pass++) {
    for (let i = 0; i < ring.length && out.length < k; i++) {
      const j = (first + i) % ring.length;
      if (picked.has(j)) continue;
      const e = ring[j]!;
      if (pass < 2 && zoneOfOwner !== undefined && e.zone === zoneOfOwner) continue;
      if (pass === 0 && zones.has(e.zone)) continue;
      picked.add(j);
      zones.add(e.zone);
      out.push(e.peer);
    }
  }
  // Ring order, whatever pass picked them: the evacuator is the first up one in this order.
  return out.sort((a, b) => ringDistance(start, a, ring) - ringDistance(start, b, ring));
}

function ringDistance(start: RingEntry, peer: PeerIdStr, ring: readonly RingEntry[]): number {
  const e = ring.find((x) => x.peer === peer)!;
  return ((e.hash - start.hash) >>> 0) + (e.hash === start.hash && e.peer < start.peer ? 2 ** 32 : 0);
}

/**
 * The holder that evacuates a failed owner: the first holder in ring order that is up. `self`
 * counts as up. When none of the listed holders is up, a node holding replicas all the same (a
 * holder the owner had dropped) acts rather than let the jobs be lost, so it returns `self`.
 */
export function evacuatorOf(holders: readonly PeerIdStr[], self: PeerIdStr, statusOf: (peer: PeerIdStr) => MemberStatus | undefined): PeerIdStr {
  for (const h of holders) {
    if (h === self || isUp(statusOf(h))) return h;
  }
  return self;
}

/** Equal lists in the same order. */
export function sameHolders(a: readonly PeerIdStr[], b: readonly PeerIdStr[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
