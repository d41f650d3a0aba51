import type { Millis } from '../core/clock.ts';
import { hashPrefix } from '../core/hash.ts';
import { jittered } from '../core/rng.ts';
import type { PeerIdStr } from '../core/transport.ts';
import type { CellEvents } from './cell-events.ts';
import { MAX_HAVE_BITS, MAX_SYNC_MEMBERS, MAX_SYNC_SUMMARIES, encodeAccuse, encodeSyncReq } from './codec.ts';
import type { SyncMember, SyncReqMsg, SyncRespMsg } from './messages.ts';
import { NodePart, type NodeContext } from './node-part.ts';
import type { CellSummary, Contact, HostRecord } from './records.ts';
import { RendezvousCache } from './rendezvous.ts';
import { MAX_FIRST_SUMMARY_WAIT_MS, freshness, type Reporter } from './reporter.ts';
import { haveBytes, heapKey, keyBits } from './summary-store.ts';
import { SYNC_ASK_ELSEWHERE, encodeSyncAnswer } from './sync-response.ts';
import { T_JOIN, T_RECONNECT, T_REPAIR, T_SYNC } from './timer-slots.ts';
import { TokenBucket } from './token-bucket.ts';

export interface SeedPeer {
  readonly peer: PeerIdStr;
  readonly addrs: readonly string[];
}

/** Bound of in-flight sync requests (join pages, anti-entropy). */
export const MAX_PENDING_SYNCS = 8;
/**
 * In-flight slots that repairs leave free: a join or an anti-entropy round must not wait for
 * repairs' chains of pages (a guard; in the traced 100k cold start it never bound).
 */
const MEMBERSHIP_SYNC_SLOTS = 2;
/** Bound of remembered seeds. */
const MAX_SEEDS = 16;
/** Summary pages a joiner fetches from one peer: 2^24 cells / 64 per page would be absurd; 2^17 hosts fit in 64 pages. */
const MAX_SYNC_PAGES = 64;
/**
 * Summary repair runs only while cells are this big on average: below it a missing summary
 * may be an empty cell, not a gap (P(empty) = e^-mean; the same bound as placement's
 * UNHEARD_CELL_MIN_MEAN_SIZE).
 */
const REPAIR_MIN_MEAN_CELL_SIZE = 8;
/**
 * Districts a repair round may pull at most, one page each from a different contact, when
 * that many districts' worth of cells are missing. One per round made the repair of a
 * 100k cold start (32 districts, every host missing most of them once the layout settles)
 * take ≥ 64 s on paper whatever else went right; four, ≥ 16 s. Measured (seed 1, cold
 * start): views whole at 38 s instead of 44 at 20k, 74 instead of 81 at 50k, for 4–8% more
 * bytes; nothing is pulled once the view is whole (simulations/README.md, "Cold start again").
 */
const MAX_REPAIR_PULLS = 4;
/**
 * Pages a round may pull with our bitmap of known cells, when we lack that many pages' worth:
 * every page is then news, so a host that booted last in a cold start (lacking 2,047 cells at
 * 100k) need not wait 4 × 64 cells per round: at that rate a host booted at 50 s could not be
 * whole before ~66 s. At most MAX_PENDING_SYNCS requests are in flight anyway.
 */
const MAX_BITMAP_PULLS = 8;
/**
 * Further pages one bitmap pull may chain from the same peer, each asked as soon as the last
 * arrives full (the peer may hold more that we lack). Without it a host that booted last in
 * a 100k cold start pulled 8 pages a round, 2 s apart, for the 32 pages it lacked.
 */
const MAX_REPAIR_CHAIN = 8;
/** Light sync answers (one summary, a few hundred bytes) are this many times cheaper, so a seed serves this many more. */
const LIGHT_SYNC_FACTOR = 10;
/**
 * Anti-entropy runs FAST_SYNC_ROUNDS rounds 1 s apart after a start, a join or a merge, then the interval
 * doubles up to syncIntervalMs. A cold start misses the records published before a node
 * subscribed; random 1:1 push-pulls spread them in ~log2(cell size) rounds, far more
 * cheaply than republishing on a topic (each publication is received ~5 times by everyone).
 */
const FIRST_SYNC_INTERVAL_MS = 1000;
const FAST_SYNC_ROUNDS = 8;
/** Records of other cells' hosts as sync members (rendezvous answers and referrals). */
const asAlive = (records: readonly HostRecord[]): SyncMember[] => records.map((record) => ({ record, status: 'alive', statusIncarnation: record.incarnation }));


export interface AntiEntropyHooks {
  /** Our record as last published (what a sync request pushes). */
  published(): HostRecord | null;
  estimate(): number;
  /** A joiner heard the cluster's layout and size; `complete`: a full answer, the join is done. */
  heardCluster(cellBits: number, estimatedSize: number, complete: boolean, now: Millis): void;
  /** A cell-mate answered a full sync: it may have announced our first record (`announced`). */
  cellMateAnswered(from: PeerIdStr, announced: boolean, now: Millis): void;
  /** As the cell's aggregator, announce a newcomer's record; false when declined. */
  announceNewcomer(record: HostRecord, now: Millis): boolean;
}

/**
 * Push-pull sync (memberlist's push-pull, Serf's reconnect): a joiner's first contact through
 * its seeds, anti-entropy rounds with random cell-mates, reconnect attempts to members held
 * failed, and the repair of gaps in the summaries of other cells; and the serving side of all
 * of them. Every exchange is one `sync-req` with our record, answered by one `sync-resp`.
 */
export class AntiEntropy extends NodePart {
  private readonly reporter: Reporter;
  private readonly cellEvents: CellEvents;
  private readonly hooks: AntiEntropyHooks;

  private readonly seeds: SeedPeer[] = [];
  /** Whether a seed gave us a full answer (the cluster's layout and our cell). */
  joined = false;
  /** Whether a full sync with a member of our own cell has completed since we entered it. */
  cellSynced = false;
  /** Anti-entropy starts fast (a cold start misses records published before it subscribed) and backs off to syncIntervalMs. */
  private syncIntervalMs: number;
  private syncRounds = 0;
  private joinAttempts = 0;
  /** In-flight sync requests; `repair`: a district's page of summaries, not a join or anti-entropy round. */
  private readonly pendingSyncs = new Map<PeerIdStr, { deadlineMs: Millis; pagesLeft: number; repair: boolean }>();
  /** Full sync answers served (records and a page of summaries), then light ones (see serveSync). */
  private syncTokens!: TokenBucket;
  private lightTokens!: TokenBucket;

  /** Recent joiners of other cells (4 per cell, 64 cells): see rendezvous.ts. */
  private readonly rendezvous = new RendezvousCache(4, 64);

  constructor(ctx: NodeContext, parts: { reporter: Reporter; cellEvents: CellEvents }, hooks: AntiEntropyHooks) {
    super(ctx);
    this.reporter = parts.reporter;
    this.cellEvents = parts.cellEvents;
    this.hooks = hooks;
    this.syncIntervalMs = Math.min(FIRST_SYNC_INTERVAL_MS, ctx.opts.syncIntervalMs);
  }

  /** Seeds to join through; a node that had joined joins again. */
  addSeeds(seeds: readonly SeedPeer[]): void {
    for (const s of seeds) {
      if (s.peer === this.self || this.seeds.some((x) => x.peer === s.peer)) continue;
      if (this.seeds.length >= MAX_SEEDS) this.seeds.shift();
      this.seeds.push(s);
    }
    this.joined = false;
    this.joinAttempts = 0;
  }

  get hasSeeds(): boolean {
    return this.seeds.length > 0;
  }

  get pendingCount(): number {
    return this.pendingSyncs.size;
  }

  start(now: Millis): void {
    this.syncTokens = new TokenBucket(this.opts.syncServePerSec, 2 * this.opts.syncServePerSec, now);
    this.lightTokens = new TokenBucket(LIGHT_SYNC_FACTOR * this.opts.syncServePerSec, 2 * LIGHT_SYNC_FACTOR * this.opts.syncServePerSec, now);
    this.timers[T_SYNC] = now + jittered(this.syncIntervalMs, this.opts.heartbeatJitter, this.rng);
    this.timers[T_RECONNECT] = now + jittered(this.opts.reconnectIntervalMs, this.opts.heartbeatJitter, this.rng);
    this.timers[T_REPAIR] = now + jittered(this.opts.summaryRepairIntervalMs, this.opts.heartbeatJitter, this.rng);
    if (this.seeds.length > 0) this.tryJoin(now);
  }

  /** A full push-pull with `peer`: its records of our cell, ours to it. */
  syncWith(peer: PeerIdStr, addrs: readonly string[] | null, now: Millis): void {
    this.requestSync(peer, addrs, true, -1, now, MAX_SYNC_PAGES);
  }

  /** A cell-mate we had not heard of: before our first sync with the cell, it can tell us of the ones we missed. */
  metCellMate(record: HostRecord, now: Millis): void {
    if (!this.cellSynced && this.pendingSyncs.size === 0) this.syncWith(record.origin, record.addrs, now);
  }

  /**
   * We split or merged. A split keeps a subset of what we had. A merge needs the merged
   * cells' records (pulled from one of their contacts each), and peers switch over several
   * maintenance ticks and miss each other's first records on the new topic: run the fast
   * anti-entropy rounds again, as after a start.
   */
  layoutChanged(oldBits: number, now: Millis): void {
    const split = this.layout.bits > oldBits;
    if (!split) {
      const bits = this.layout.bits;
      for (const s of this.store.values()) {
        if (s.cellBits === oldBits && s.cellBits >= bits && s.cell >>> (s.cellBits - bits) === this.layout.cell && s.cell !== hashPrefix(this.self, oldBits)) {
          const contact = s.contacts.find((c) => c.peer !== this.self);
          if (contact) this.syncWith(contact.peer, contact.addrs, now);
        }
      }
    }
    this.rendezvous.clear();
    this.cellSynced = split;
    if (!split) this.fastAntiEntropy(now);
  }

  tryJoin(now: Millis): void {
    if (this.joined || this.seeds.length === 0) return;
    const picks = this.seeds.length <= 3 ? this.seeds : [0, 1, 2].map(() => this.seeds[this.rng.int(this.seeds.length)]!);
    for (const s of picks) this.requestSync(s.peer, s.addrs, true, 0, now, MAX_SYNC_PAGES);
    this.joinAttempts++;
    const backoff = Math.min(this.opts.joinRetryMaxMs, this.opts.syncTimeoutMs * 2 ** Math.min(this.joinAttempts - 1, 16));
    this.timers[T_JOIN] = now + backoff;
  }

  joinTimer(now: Millis): void {
    this.timers[T_JOIN] = Infinity;
    for (const [peer, p] of this.pendingSyncs) if (p.deadlineMs <= now) this.pendingSyncs.delete(peer);
    this.tryJoin(now);
  }

  /** `pagesLeft`: further pages the answer's cursor may be followed for (a joiner's pages, a bitmap repair's chain). */
  private requestSync(peer: PeerIdStr, addrs: readonly string[] | null, wantRecords: boolean, cursor: number, now: Millis, pagesLeft: number, repair = false, have: Uint8Array | null = null): void {
    if (peer === this.self) return;
    if (!this.pendingSyncs.has(peer) && this.pendingSyncs.size >= MAX_PENDING_SYNCS - (repair ? MEMBERSHIP_SYNC_SLOTS : 0)) return;
    this.pendingSyncs.set(peer, { deadlineMs: now + this.opts.syncTimeoutMs, pagesLeft, repair });
    if (addrs && addrs.length > 0) this.effects.dial(peer, addrs);
    // Our view hash lets a peer with the same view answer in a few bytes; a joiner (not yet synced) asks for everything.
    const viewHash = wantRecords && this.cellSynced ? this.membership.viewHash : -1;
    this.effects.send(peer, encodeSyncReq({ cluster: this.opts.cluster, record: this.hooks.published(), wantRecords, summaryCursor: cursor, viewHash, have }));
  }

  syncTimer(now: Millis): void {
    this.timers[T_SYNC] = Infinity;
    for (const [peer, p] of this.pendingSyncs) if (p.deadlineMs <= now) this.pendingSyncs.delete(peer);
    const contact = this.unknownCellContact();
    const peer = contact?.peer ?? this.membership.randomAlive(1, null, this.rng)[0];
    if (peer) this.requestSync(peer, contact?.addrs ?? null, true, -1, now, MAX_SYNC_PAGES);
    else this.syncWithCellContact(now);
    this.timers[T_SYNC] = now + jittered(this.syncIntervalMs, this.opts.heartbeatJitter, this.rng);
    if (++this.syncRounds >= FAST_SYNC_ROUNDS) this.syncIntervalMs = Math.min(this.opts.syncIntervalMs, this.syncIntervalMs * 2);
  }

  /**
   * A contact our cell's summary names that our view lacks altogether. Then the cell-mates we
   * know may be as new as we are and know as little: hosts that booted together while the
   * seeds turned requests away met on the cell topic, synced with each other, and answered
   * each other "in sync" while missing most of their cell (100k cold start, seed 2: one
   * sampled host lacked 42 of its cell for 10 s; the 5-s maintenance check did not break
   * it). A random known mate cannot close that gap; the contact can.
   */
  private unknownCellContact(): Contact | undefined {
    return this.store.get(this.layout.cell)?.contacts.find((c) => c.peer !== this.self && this.membership.statusOf(c.peer) === undefined);
  }

  /**
   * Serf's reconnect: push-pull with one member we hold failed. If it answers, it was cut off,
   * not dead: its answer shows us failed in its view (we refute), and if we still hold it
   * failed we accuse it directly (it refutes; see onSyncResp), so the two halves of a healed
   * partition merge without waiting for a restart.
   */
  reconnectTimer(now: Millis): void {
    this.timers[T_RECONNECT] = now + jittered(this.opts.reconnectIntervalMs, this.opts.heartbeatJitter, this.rng);
    const failed = this.membership.randomFailed(this.rng);
    if (failed !== undefined) this.requestSync(failed.origin, failed.addrs, true, -1, now, MAX_SYNC_PAGES);
  }

  /**
   * Summary repair. Digests carry a district's summaries under a small global budget, so
   * after a cold start of 100k hosts a node heard of some cells only minutes later (23% of
   * views complete after 180 s). While our current layout has gaps, each round asks for a
   * page from the first gap of each of a few districts we lack cells in, in the sync request
   * that joins already use, with a bitmap of the cells we hold so that the answer carries only
   * what we lack (see pullSummaries for whom we ask). Nothing is sent once the view is whole.
   * Summaries a digest named that we lack come first, within the same round's pulls: at 100k
   * digests name news every few seconds, and when one such pull took a whole round, a host
   * still knew no cell of a quarter of the districts 50 s after a cold start.
   */
  repairTimer(now: Millis): void {
    this.timers[T_REPAIR] = now + jittered(this.opts.summaryRepairIntervalMs, this.opts.heartbeatJitter, this.rng);
    if (!this.joined || !this.cellSynced || this.layout.bits === 0) return;
    let pulls = 0;
    while (pulls < MAX_REPAIR_PULLS && this.pullWanted(now)) pulls++;
    if (pulls >= MAX_REPAIR_PULLS) return;
    const cells = 2 ** this.layout.bits;
    const known = this.store.occupiedCells;
    if (known >= cells || (known > 0 && this.store.meanMembers < REPAIR_MIN_MEAN_CELL_SIZE)) return;
    // While most of the cluster is in another layout, our gaps are cells that have not
    // switched (or already have): their reporters will speak in the layout both end in.
    const majority = this.store.majorityBits();
    if (majority >= 0 && majority !== this.layout.bits) return;
    // Just after our split or merge, the gaps of the new layout are mostly cells whose first
    // summary is not out yet (it waits up to MAX_FIRST_SUMMARY_WAIT_MS for the cell to
    // settle), and pulls for them ask hosts that know as little: in a 1k join wave's split,
    // ~550 pulls a second for 5 s.
    if (now < this.layout.changedAtMs + MAX_FIRST_SUMMARY_WAIT_MS) return;
    // Districts with gaps from a random one on (the store counts known cells per district: no
    // scan of every cell). Our own cell is no gap: its summary comes with our cell's own sync.
    // With the bitmap an answer carries only what we lack (up to a page, from the gap on,
    // wrapping around the layout): without it a page from a gap was mostly summaries we had
    // (~19 new cells a pull 50 s into a 100k cold start), and a view lacking a quarter of its
    // cells took 30 s of rounds. So as many pulls as pages we lack (up to MAX_BITMAP_PULLS),
    // each from another district's gap; without a bitmap (a layout over 2^16 cells) one per
    // district with gaps, up to MAX_REPAIR_PULLS.
    const perDistrict = this.layout.cellsInDistrict();
    const districtCount = 2 ** this.layout.districtBits;
    const ownMissing = this.store.get(this.layout.cell) === undefined ? 1 : 0;
    const have = this.layout.bits <= MAX_HAVE_BITS ? this.store.haveBitmap() : null;
    const maxPulls = have === null ? MAX_REPAIR_PULLS : Math.min(MAX_BITMAP_PULLS, pulls + Math.ceil((cells - known) / MAX_SYNC_SUMMARIES));
    const start = this.rng.int(districtCount);
    for (let i = 0; i < districtCount && pulls < maxPulls; i++) {
      const district = (start + i) % districtCount;
      const known = this.store.knownIn(district) + (district === this.layout.district ? ownMissing : 0);
      if (known >= perDistrict) continue;
      // From the district's first gap: an answer too big for one message is cut in half (a
      // page of 64 summaries with buckets is), so a page from the district's start never
      // reached its second half, which then waited for digests (at 50k, the last 2% of views).
      // A cell whose parent or children we hold is no gap: it split or merged (or we are about
      // to), and its summaries come in the layout both end in. In a 1k join wave's split, hosts
      // not yet split counted the split cells as gaps and pulled ~400 times a second for 5 s.
      let gap = district * perDistrict;
      const end = gap + perDistrict;
      while (gap < end && (this.store.get(gap) !== undefined || this.store.coveredNearby(gap))) gap++; // our own cell too, when we lack its summary
      if (gap === end) continue;
      this.pullSummaries(district, heapKey(this.layout.bits, gap) - 1, now, have);
      pulls++;
    }
  }

  /**
   * One summary a digest named that we still lack: pull the page from its heap key on (the
   * rest of its district follows in key order). One attempt each: a failed pull waits for the
   * next refresh, and changes keep arriving whole in the digests meanwhile.
   */
  private pullWanted(now: Millis): boolean {
    const key = this.reporter.takeWanted();
    if (key === undefined) return false;
    const bits = keyBits(key);
    const cell = key - 2 ** bits;
    return this.pullSummaries(bits >= this.layout.districtBits ? cell >>> (bits - this.layout.districtBits) : 0, key - 1, now);
  }

  /**
   * Asks a cell-mate or a contact of `district` for the page of summaries after heap key
   * `after` (only those missing from `have`, when given).
   */
  private pullSummaries(district: number, after: number, now: Millis, have: Uint8Array | null = null): boolean {
    // Every other pull asks a random cell-mate: contacts are a few hosts per cell that every
    // host repairing asks (40 s into a 100k cold start, 40% of their answers were light, their
    // budget spent), while any host knows most of what we lack (each cell a host lacked then
    // was known to 50-90% of hosts), and cell-mates ask each other evenly.
    const mate = this.rng.int(2) === 0 ? this.membership.randomAlive(1, null, this.rng)[0] : undefined;
    const contact = mate === undefined ? this.repairContact(district) : undefined;
    // Knowing no other cell at all: a cell-mate may (a non-delegate hears summaries only through digests).
    const peer = mate ?? contact?.peer ?? this.membership.randomAlive(1, null, this.rng)[0];
    if (peer === undefined) return false;
    this.stats.summaryRepairs++;
    this.requestSync(peer, contact?.addrs ?? null, false, after, now, have === null ? 0 : MAX_REPAIR_CHAIN, true, have);
    return true;
  }

  /**
   * Whom outside our cell to ask for `district`'s summaries: a contact of a known cell of that
   * district (a delegate: it hears the district topic); for another district, else a host of
   * it that asked us for a sync or was referred to us (a district whose digest the global
   * budget still holds back is known to no one outside it: contacts elsewhere only repeat what
   * we have); else any known contact. Of a district we know few cells of, the few contacts
   * those name are what every host missing the same cells asks: at 100k, 4% of hosts knew one
   * cell of a district 90 s after a cold start and all asked its one contact. So we ask any
   * known contact instead in proportion to what we lack of the district.
   */
  private repairContact(district: number): Contact | undefined {
    const known = this.store.knownIn(district);
    const thin = known > 0 && this.rng.int(this.layout.cellsInDistrict()) >= known;
    return (
      (thin ? this.store.randomContact(this.rng, this.self) : undefined) ??
      this.store.contactIn(district, this.layout.districtBits, this.rng, this.self) ??
      (district !== this.layout.district ? this.districtHost(district) : undefined) ??
      this.store.randomContact(this.rng, this.self)
    );
  }

  /**
   * A repair asked for another district's page from one of its cells on, and we know none of
   * its cells from there on: name a host of that district that asked us for a sync, so the
   * requester can ask it next round instead of other contacts that know as little as we do.
   */
  private referral(cursor: number, summaries: readonly CellSummary[], from: PeerIdStr, theirCell: number): SyncMember[] {
    const bits = keyBits(cursor + 1);
    if (bits !== this.layout.bits) return [];
    const span = this.layout.cellsInDistrict();
    const asked = cursor + 1 - 2 ** bits;
    const first = asked - (asked % span);
    // Its own district the asker repairs through contacts it knows (and a record of its own
    // cell in `members` would read as cell news).
    if (theirCell >= first && theirCell < first + span) return [];
    const s = summaries[0];
    if (s !== undefined && s.cellBits === bits && s.cell < first + span) return [];
    const record = this.hostOfDistrict(first / span, from);
    return record === undefined ? [] : asAlive([record]);
  }

  /** A host of `district` at our cellBits that pushed its record to us, as a contact. */
  private districtHost(district: number): Contact | undefined {
    const record = this.hostOfDistrict(district, this.self);
    return record === undefined ? undefined : { peer: record.origin, addrs: record.addrs };
  }

  /** A host of `district` (at our cellBits) other than `not`, from the rendezvous cache. */
  private hostOfDistrict(district: number, not: PeerIdStr): HostRecord | undefined {
    const span = this.layout.cellsInDistrict();
    return this.rendezvous.anyIn(district * span, (district + 1) * span, this.rng, not);
  }

  serveSync(from: PeerIdStr, req: SyncReqMsg, now: Millis): void {
    if (req.cluster !== this.opts.cluster) {
      this.effects.refuse('GOSSIP_WRONG_CLUSTER', 'ignore');
      return;
    }
    // An overloaded node only gives light answers: a seed in trouble points joiners elsewhere.
    const full = this.awareness.score * 2 < this.opts.maxAwareness && this.syncTokens.take(now);
    if (!full && !this.lightTokens.take(now)) {
      this.stats.syncRequestsDropped++;
      return;
    }
    const theirCell = this.layout.cellOf(from);
    // The push half: the requester's own record, if it is really its own. In our cell we
    // apply it; from another cell we remember it for the next joiner of that cell.
    const pushed = req.record;
    let announced = false;
    if (pushed && pushed.origin !== from) this.effects.refuse('GOSSIP_ORIGIN_MISMATCH', 'reject');
    else if (pushed && pushed.cluster === this.opts.cluster) {
      if (theirCell === this.layout.cell) {
        const r = this.membership.applyRecord(pushed, now);
        if (r === 'revived') this.cellEvents.clearSuspicion(from);
        // A member new to the cell: news for the whole cell. A restart or a return after a
        // partition still publishes its own record (announcing those too turned a 1k
        // partition-heal's layout into a 3-bit/4-bit mix that had not settled 90 s later).
        if (r === 'new') announced = this.hooks.announceNewcomer(pushed, now);
      } else {
        this.rendezvous.add(theirCell, pushed);
      }
    }
    const sameCell = full && req.wantRecords && theirCell === this.layout.cell;
    const inSync = sameCell && req.viewHash === this.membership.viewHash;
    let members = sameCell && !inSync ? this.membership.forSync(MAX_SYNC_MEMBERS) : req.wantRecords && theirCell !== this.layout.cell ? asAlive(this.rendezvous.of(theirCell, from)) : [];
    let page: { summaries: readonly CellSummary[]; next: number } = { summaries: [], next: -1 };
    if (!full) {
      // Light answer (a seed under a cold-start stampede): our cellBits and the summary of
      // the requester's cell, whose contacts can serve it the rest.
      const theirs = this.store.get(theirCell);
      page = { summaries: theirs ? [theirs] : [], next: req.summaryCursor >= 0 ? SYNC_ASK_ELSEWHERE : -1 };
    } else if (req.summaryCursor >= 0) {
      // A bitmap of our layout: only what the asker lacks, from its cursor's cell on. Else (none,
      // or a layout we are not in) the page in key order.
      const have = req.have;
      const ours = have !== null && keyBits(req.summaryCursor + 1) === this.layout.bits && have.length === haveBytes(this.layout.bits);
      page = ours ? this.lackingPage(have, req.summaryCursor) : this.store.page(req.summaryCursor, MAX_SYNC_SUMMARIES);
      if (!req.wantRecords && members.length === 0) members = this.referral(req.summaryCursor, page.summaries, from, theirCell);
    }
    this.effects.reply(from, encodeSyncAnswer({ cluster: this.opts.cluster, cellBits: this.layout.bits, estimatedSize: this.hooks.estimate(), cell: this.layout.cell, members, inSync, announced, page }));
    this.stats.syncRequestsServed++;
  }

  /** What a bitmap says the asker lacks, from its cursor on; a full page's `next` is its last key (there may be more). */
  private lackingPage(have: Uint8Array, cursor: number): { summaries: readonly CellSummary[]; next: number } {
    const summaries = this.store.lacking(have, cursor + 1 - 2 ** this.layout.bits, MAX_SYNC_SUMMARIES);
    const last = summaries.length === MAX_SYNC_SUMMARIES ? summaries[summaries.length - 1]! : undefined;
    return { summaries, next: last === undefined ? -1 : heapKey(last.cellBits, last.cell) };
  }

  onSyncResp(from: PeerIdStr, resp: SyncRespMsg, now: Millis): void {
    const pending = this.pendingSyncs.get(from);
    if (!pending) {
      this.effects.refuse('GOSSIP_UNKNOWN_MEMBER', 'ignore'); // unsolicited: never let a stranger inject state
      return;
    }
    this.pendingSyncs.delete(from);
    if (resp.cluster !== this.opts.cluster) {
      this.effects.refuse('GOSSIP_WRONG_CLUSTER', 'ignore');
      return;
    }
    const light = resp.nextCursor === SYNC_ASK_ELSEWHERE;
    if (!this.joined) {
      // A joiner takes the cluster's layout rather than its own guess.
      this.hooks.heardCluster(resp.cellBits, resp.estimatedSize, !light, now);
      if (!light) {
        this.joined = true;
        // Agents are often started first and joined later (`shoal join`): the fast rounds of
        // the start ran alone. 32 agents joined at once otherwise waited for the doubled
        // interval (16–32 s) to learn the newcomers announced before they subscribed.
        this.fastAntiEntropy(now);
      }
    }
    for (const m of resp.members) {
      const origin = m.record.origin;
      if (origin === this.self) {
        // The peer thinks we are suspect or failed, or knows a newer incarnation of us: outbid it.
        if (m.status !== 'alive' && m.status !== 'left' && m.statusIncarnation >= this.effects.incarnation()) this.effects.refute(m.statusIncarnation, now);
        else if (m.record.incarnation > this.effects.incarnation()) this.effects.refute(m.record.incarnation, now);
        continue;
      }
      if (this.layout.cellOf(origin) !== this.layout.cell) {
        // A referral for a repair: a host of a district nobody we asked knows, to ask next.
        if (pending.repair) this.rendezvous.add(this.layout.cellOf(origin), m.record);
        continue;
      }
      if (this.membership.applySynced(m.record, m.status, m.statusIncarnation, now) === 'revived') this.cellEvents.clearSuspicion(origin);
    }
    // It answered, so it is not dead; if our view still holds it failed (or suspect) at the
    // incarnation it has, it never heard the accusation (a partition held it back): tell it,
    // and it refutes. Otherwise a healed partition could leave one member alive in its own
    // view and failed in every cell-mate's (a 1k partition-heal, seed 2).
    const cellMate = this.layout.cellOf(from) === this.layout.cell;
    const status = this.membership.statusOf(from);
    if (cellMate && (status === 'failed' || status === 'suspect')) this.effects.reply(from, encodeAccuse(from, this.membership.statusIncarnationOf(from)));
    if (!light && (resp.members.length > 0 || resp.inSync) && cellMate) {
      this.cellSynced = true;
      this.hooks.cellMateAnswered(from, resp.announced, now);
    }
    for (const s of resp.summaries) if (!freshness(s.issuedAtMs, now, this.opts)) this.reporter.storeSummary(s, now);
    if (pending.repair) {
      this.chainRepair(from, resp.nextCursor, pending.pagesLeft, now);
      return;
    }
    if (resp.nextCursor >= 0 && pending.pagesLeft > 0) this.requestSync(from, null, false, resp.nextCursor, now, pending.pagesLeft - 1);
    // Answered by a peer of another cell, or only lightly: our own cell's contacts serve the rest.
    if (light || (!this.cellSynced && !cellMate)) this.syncWithCellContact(now, from, light ? 0 : -1);
  }

  /**
   * A bitmap page that came back full (`next` is its last cell's key): the peer may hold more
   * that we lack, so ask it for the next page now rather than in the next round, while our
   * view still has gaps. Summaries that arrived meanwhile are in the new bitmap.
   */
  private chainRepair(from: PeerIdStr, next: number, pagesLeft: number, now: Millis): void {
    if (next < 0 || pagesLeft <= 0 || keyBits(next) !== this.layout.bits || this.store.occupiedCells >= 2 ** this.layout.bits) return;
    this.stats.summaryRepairs++;
    this.requestSync(from, null, false, next, now, pagesLeft - 1, true, this.store.haveBitmap());
  }

  /** Anti-entropy rounds FIRST_SYNC_INTERVAL_MS apart again, then doubling (see FAST_SYNC_ROUNDS). */
  private fastAntiEntropy(now: Millis): void {
    this.syncRounds = 0;
    this.syncIntervalMs = Math.min(FIRST_SYNC_INTERVAL_MS, this.opts.syncIntervalMs);
    this.timers[T_SYNC] = Math.min(this.timers[T_SYNC]!, now + this.syncIntervalMs);
  }

  /** Push-pull with a contact of our own cell, as its summary lists them. */
  private syncWithCellContact(now: Millis, not: PeerIdStr | null = null, cursor = -1): void {
    const contact = this.store.get(this.layout.cell)?.contacts.find((c) => c.peer !== this.self && c.peer !== not);
    if (contact) this.requestSync(contact.peer, contact.addrs, true, cursor, now, MAX_SYNC_PAGES);
  }
}
