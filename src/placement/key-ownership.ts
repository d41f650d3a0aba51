import type { Millis } from '../core/clock.ts';
import { hash32, mix32 } from '../core/hash.ts';
import type { Rng } from '../core/rng.ts';
import type { PeerIdStr } from '../core/transport.ts';
import type { HostRecord, MemberView } from '../gossip/records.ts';
import { pickContact } from './cell-routing.ts';
import type { PlacementView } from './view.ts';

/**
 * Exactly once across entry agents.
 *
 * An idempotency key hashes (`keyHashOf`) to a cell (its first `cellBits` bits) and, inside
 * that cell, to one *owner*: the alive member with the highest rendezvous weight. Every entry
 * agent forwards a submit to that owner (through one of the cell's contacts when it is not in
 * its own cell), and the owner serialises requests per key and keeps the binding key → job.
 * So the same key sent to two entry agents meets at one place and yields one job. The job id
 * embeds the key hash, so any agent can find the owner of a job from its id alone.
 *
 * Remaining race: two agents whose views of the key's cell disagree (a member joined, left
 * or is suspected by one but not the other) compute different owners, and two owners may
 * place the same key at the same time. What narrows it:
 * - rendezvous hashing moves only the keys of the member that changed, and a dead owner's
 *   keys go to the same successor in every view;
 * - both owners send the same tenant/key to the hosts, and each host's ledger answers a known
 *   key with the existing job, so the race only duplicates when the two owners pick different
 *   hosts, within the few seconds that views disagree;
 * - an entry that retries after an owner timed out sends the job id the old owner announced,
 *   so a host that admitted it answers "duplicate" instead of creating a second job;
 * - a view that has not heard of the key's cell yet relays instead of picking another cell
 *   (see `keyCellIn`).
 */

/** The 32-bit hash of a tenant's idempotency key: it picks the cell and the owner. */
export function keyHashOf(tenant: string, key: string): number {
  return hash32(`${tenant}/${key}`);
}

export function cellOfHash(hash: number, cellBits: number): number {
  return cellBits <= 0 ? 0 : hash >>> (32 - cellBits);
}

// Records are immutable and shared, so a peer's hash is computed once per record object.
const peerHashes = new WeakMap<HostRecord, number>();

function peerHashOf(record: HostRecord): number {
  let h = peerHashes.get(record);
  if (h === undefined) {
    h = hash32(record.origin);
    peerHashes.set(record, h);
  }
  return h;
}

export function rendezvousWeight(peer: PeerIdStr, keyHash: number): number {
  return mix32(hash32(peer) ^ keyHash);
}

/**
 * The owner of a key among a cell's members: highest rendezvous weight among alive members
 * not in `avoid` (peers this caller found unreachable). Ties, practically impossible, go to
 * the smaller peer id so every view agrees.
 */
export function rendezvousOwner(keyHash: number, members: Iterable<MemberView>, avoid: ReadonlySet<PeerIdStr> | null): PeerIdStr | null {
  let best: PeerIdStr | null = null;
  let bestWeight = -1;
  for (const m of members) {
    if (m.status !== 'alive') continue;
    const peer = m.record.origin;
    if (avoid !== null && avoid.has(peer)) continue;
    const w = mix32(peerHashOf(m.record) ^ keyHash);
    if (w > bestWeight || (w === bestWeight && best !== null && peer < best)) {
      best = peer;
      bestWeight = w;
    }
  }
  return best;
}

/**
 * Mean cell size from which a missing summary means "not heard yet" rather than "empty". Hash
 * prefixes put a Poisson number of hosts in a cell: with a mean of m a cell is empty with
 * probability e^-m (3·10^-4 at 8, 10^-21 at the target 48). Below it (a few agents with a
 * pinned cellBits) an empty cell is plausible and its keys go to the next known cell.
 */
export const UNHEARD_CELL_MIN_MEAN_SIZE = 8;

/**
 * The cell that owns a key hash in this view: its prefix cell. When that cell's summary is
 * missing here and cells are small enough to be empty, the next known cell in circular order,
 * so agents with the same summaries agree. When cells are too big to be empty, the prefix
 * cell stays the owner even unheard: a view that merely has not heard of it yet must not
 * pick another owner (at 100k hosts, while summaries were still spreading, that gave keys
 * two jobs).
 */
export function keyCellIn(keyHash: number, view: PlacementView): number {
  return locateKeyCell(keyHash, view).cell;
}

interface KeyCellLocation {
  readonly cell: number;
  /** The key's cell has no summary here (and is not ours). */
  readonly unheard: boolean;
  /** The known cell nearest after the key's cell in circular order (the own cell included). */
  readonly nearest: number;
}

function locateKeyCell(keyHash: number, view: PlacementView): KeyCellLocation {
  const bits = view.cellBits;
  const c = cellOfHash(keyHash, bits);
  if (bits <= 0 || c === view.ownCell || view.cellSummary(c) !== undefined) return { cell: c, unheard: false, nearest: c };
  const size = 2 ** bits;
  let nearest = view.ownCell;
  let nearestDistance = (view.ownCell - c + size) % size;
  let cells = 0;
  let members = 0;
  for (const s of view.cellSummaries()) {
    if (s.cellBits !== bits || s.contacts.length === 0) continue;
    cells++;
    members += s.members;
    const d = (s.cell - c + size) % size;
    if (d < nearestDistance) {
      nearest = s.cell;
      nearestDistance = d;
    }
  }
  if (cells > 0 && members / cells >= UNHEARD_CELL_MIN_MEAN_SIZE) return { cell: c, unheard: true, nearest };
  return { cell: nearest, unheard: false, nearest };
}

export type OwnerRoute =
  /** This node owns the key. */
  | { readonly type: 'self'; readonly cell: number }
  /** The owner is in our cell: send to it directly. */
  | { readonly type: 'owner'; readonly to: PeerIdStr; readonly cell: number }
  /** The owner is in another cell: send to one of its contacts, which forwards. */
  | { readonly type: 'contact'; readonly to: PeerIdStr; readonly addrs: readonly string[]; readonly cell: number }
  /**
   * The key's cell is not known here yet: send to a contact of the nearest known cell, which
   * is a delegate of that district (it hears the district's summaries) and forwards.
   */
  | { readonly type: 'relay'; readonly to: PeerIdStr; readonly addrs: readonly string[]; readonly cell: number }
  /** Nobody reachable: every candidate is in `avoid`, or (`unheard`) nobody here knows the key's cell. */
  | { readonly type: 'none'; readonly cell: number; readonly unheard: boolean };

/** Where to send a request about a key, as seen from this node. */
export function routeToOwner(keyHash: number, view: PlacementView, rng: Rng, avoid: ReadonlySet<PeerIdStr> | null): OwnerRoute {
  const { cell, unheard, nearest } = locateKeyCell(keyHash, view);
  if (cell === view.ownCell) {
    const owner = rendezvousOwner(keyHash, view.cellMembers(), avoid);
    if (owner === null) return { type: 'none', cell, unheard: false };
    return owner === view.self ? { type: 'self', cell } : { type: 'owner', to: owner, cell };
  }
  const summary = view.cellSummary(unheard ? nearest : cell);
  const contact = summary === undefined ? null : pickContact(summary, view.self, avoid, rng);
  if (contact === null) return { type: 'none', cell, unheard };
  return { type: unheard ? 'relay' : 'contact', to: contact.peer, addrs: contact.addrs, cell };
}

const CROCKFORD = '0123456789abcdefghjkmnpqrstvwxyz';
const CROCKFORD_VALUE: Readonly<Record<string, number>> = Object.freeze(Object.fromEntries([...CROCKFORD].map((c, i) => [c, i])));
export const PLACEMENT_JOB_ID_LENGTH = 22;
export const PLACEMENT_JOB_ID_PATTERN = /^[0-9a-hjkmnp-tv-z]{10}[0-3][0-9a-hjkmnp-tv-z]{11}$/;

/**
 * A job id that finds its owner: 10 chars of milliseconds (time-ordered like a ULID), 7 chars
 * holding the 32-bit key hash, 5 random chars (25 bits) against collisions within one ms.
 */
export function placementJobId(nowMs: Millis, keyHash: number, rng: Rng): string {
  let time = '';
  let t = Math.max(0, Math.floor(nowMs));
  for (let i = 0; i < 10; i++) {
    time = CROCKFORD[t % 32] + time;
    t = Math.floor(t / 32);
  }
  let hash = '';
  for (let shift = 30; shift >= 0; shift -= 5) hash += CROCKFORD[(keyHash >>> shift) & 31];
  let rand = '';
  for (let i = 0; i < 5; i++) rand += CROCKFORD[rng.int(32)];
  return time + hash + rand;
}

/** The key hash inside a placement job id, or null when `id` is not one. */
export function keyHashOfJobId(id: string): number | null {
  if (id.length !== PLACEMENT_JOB_ID_LENGTH || !PLACEMENT_JOB_ID_PATTERN.test(id)) return null;
  let h = 0;
  for (let i = 10; i < 17; i++) h = h * 32 + CROCKFORD_VALUE[id[i]!]!;
  return h >>> 0;
}
