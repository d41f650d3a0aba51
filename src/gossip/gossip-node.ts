import type { Millis } from '../core/clock.ts';
import { hashPrefix } from '../core/hash.ts';
import { wireSize, type Encoded, type Outbox, type ProtocolNode } from '../core/protocol.ts';
import type { Rng } from '../core/rng.ts';
import type { PeerIdStr, Verdict } from '../core/transport.ts';
import { CellBitsController, estimateClusterSize } from './cell-bits.ts';
import {
  MAX_ANNOUNCED_RECORD_BYTES,
  MAX_HAVE_BITS,
  MAX_SYNC_MEMBERS,
  MAX_SYNC_SUMMARIES,
  encodeAccuse,
  encodeEvents,
  encodeRecord,
  encodeSyncReq,
} from './codec.ts';
import { emptyReasonCounts, verdictOf, type GossipAction, type GossipReason, type RefusalSink } from './errors.ts';
import { CellEvents } from './cell-events.ts';
import { MAX_DIRTY, MAX_FIRST_SUMMARY_WAIT_MS, Reporter, freshness } from './reporter.ts';
import { FailureDetector, MAX_RELAYS } from './failure-detector.ts';
import { Membership, type MemberEvent, type MemberListener } from './membership.ts';
import type { DirectMsg, EventsMsg, SyncMember, SyncReqMsg, SyncRespMsg, TopicMsg } from './messages.ts';
import { TRAFFIC_KINDS, newGossipCounters, type GossipCounters, type GossipMetrics, type TrafficKind } from './metrics.ts';
import type { GossipOptions } from './options.ts';
import { PublishPacer } from './pacer.ts';
import type { CellSummary, Contact, HostRecord, MemberView } from './records.ts';
import { applyPatch, initialRecord, recordChanged, recordShrank, type SelfPatch } from './self-record.ts';
import { SummaryStore, haveBytes, heapKey, keyBits } from './summary-store.ts';
import { SYNC_ASK_ELSEWHERE, encodeSyncAnswer } from './sync-response.ts';
import { TokenBucket } from './token-bucket.ts';
import { planConnections } from './connections.ts';
import { RendezvousCache } from './rendezvous.ts';
import { Awareness } from './suspicion.ts';
import { Layout } from './layout.ts';
import { T_DIGEST, T_EVENTS, T_FALLBACK, T_JOIN, T_MAINT, T_RECONNECT, T_RECORD, T_REPAIR, T_SUMMARY, T_SYNC, T_TRANSITION, TIMER_COUNT, newTimers, type Timers } from './timer-slots.ts';
import { globalTopic, type TopicKind } from './topics.ts';
import type { ClusterView } from './view.ts';

export interface GossipModules {
  readonly self: PeerIdStr;
  readonly rng: Rng;
  readonly outbox: Outbox;
  readonly metrics: GossipMetrics | null;
}

export interface SeedPeer {
  readonly peer: PeerIdStr;
  readonly addrs: readonly string[];
}

type TopicRole = 'cell' | 'old-cell' | 'district' | 'global';

interface Subscription {
  readonly kind: TopicKind;
  readonly role: TopicRole;
}

/** A traffic kind's slot pair (messages, bytes) in GossipNode.traffic; sent counts start at TRAFFIC_SENT. */
const TRAFFIC_INDEX: Readonly<Record<TrafficKind, number>> = { cell: 0, district: 1, global: 2, direct: 3 };
const TRAFFIC_SENT = 2 * TRAFFIC_KINDS.length;

/** Maintenance tick: cheap checks that need no precision. */
const MAINT_INTERVAL_MS = 5000;
/** Bound of peers asked for a connection between two refreshes (beyond it, asks repeat: harmless). */
const MAX_DIAL_ASKED = 64;
/** Bound of in-flight sync requests (join pages, anti-entropy). */
const MAX_PENDING_SYNCS = 8;
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
/**
 * A joiner publishes its first record itself when no aggregator has taken it over within this
 * many sync timeouts (no summary of its cell yet names a contact, or the contact is down).
 */
const FIRST_RECORD_FALLBACK_SYNCS = 2;

/** Records of other cells' hosts as sync members (rendezvous answers and referrals). */
const asAlive = (records: readonly HostRecord[]): SyncMember[] => records.map((record) => ({ record, status: 'alive', statusIncarnation: record.incarnation }));

/**
 * One Shoal gossip participant, sans I/O: handlers are synchronous, take `now`, and push
 * their effects into the Outbox. See README.md for the protocol.
 */
export class GossipNode implements ProtocolNode, ClusterView, RefusalSink {
  readonly self: PeerIdStr;
  private readonly opts: GossipOptions;
  private readonly rng: Rng;
  private readonly outbox: Outbox;
  private readonly metrics: GossipMetrics | null;
  private readonly stats: GossipCounters;
  /**
   * Messages and bytes per traffic kind, received then sent (see TRAFFIC_INDEX), copied into
   * `stats` when read. Every message counts here: one flat array is one object to touch,
   * where the nested counters were three (in a 100k-host simulation each is a likely cache miss).
   */
  private readonly traffic: number[] = Array.from({ length: 2 * TRAFFIC_SENT }, () => 0);

  private readonly awareness: Awareness;
  private readonly membership: Membership;
  private readonly fd: FailureDetector;
  private readonly bitsCtl: CellBitsController;
  private readonly store: SummaryStore;
  private readonly cellEvents: CellEvents;
  private readonly reporter: Reporter;

  private started = false;
  private stopped = false;
  private startedAtMs = 0;
  private readonly timers: Timers = newTimers();

  // Layout.
  private readonly layout: Layout;
  private readonly myGlobalTopic: string;
  private oldCellTopic: string | null = null;
  private readonly topics = new Map<string, Subscription>();
  /** Our last split or merge (not our start). */
  private layoutChangedAtMs = -Infinity;
  private estimate: number;

  // Own record.
  private draft: HostRecord;
  private published: HostRecord | null = null;
  private lastRecordAtMs = -Infinity;
  private lastRecordBytes = 160;
  /** The draft advertises significantly less room than the last publication: publish at the min interval, past the pacer. */
  private recordUrgent = false;
  /** A joiner's first record waits for its aggregator to announce it (see deferFirstRecord). */
  private firstRecordPending = false;
  /** Set once the joiner has handed its first record to the aggregator it learned of (one try). */
  private firstRecordHandedOver = false;
  /** The first record heartbeat after start was drawn over a whole period (see scheduleRecordHeartbeat). */
  private recordPhaseDrawn = false;
  private cellPacer!: PublishPacer;

  // Roles from the ring.
  private ringVersionSeen = -1;
  private rank = Infinity;
  private isDelegate = false;
  // Sync.
  private readonly seeds: SeedPeer[] = [];
  private joined = false;
  /** Whether a full sync with a member of our own cell has completed since we entered it. */
  private cellSynced = false;
  /** Anti-entropy starts fast (a cold start misses records published before it subscribed) and backs off to syncIntervalMs. */
  private syncIntervalMs: number;
  private syncRounds = 0;
  private joinAttempts = 0;
  /** In-flight sync requests; `repair`: a district's page of summaries, not a join or anti-entropy round. */
  private readonly pendingSyncs = new Map<PeerIdStr, { deadlineMs: Millis; pages: number; repair: boolean }>();
  /** Full sync answers served (records and a page of summaries), then light ones (see serveSync). */
  private syncTokens!: TokenBucket;
  private lightTokens!: TokenBucket;

  // Connections.
  private connected = new Set<PeerIdStr>();
  private lastConnectAtMs = -Infinity;
  private connectionsDirty = false;
  /** Peers we asked a connection for outside the planned set since the last refresh (bounded by MAX_DIAL_ASKED). */
  private readonly dialAsked = new Set<PeerIdStr>();
  /** The remote contacts of the last connection plan, each with its cell's slot (kept while listed). */
  private remoteLinks = new Map<PeerIdStr, number>();

  private readonly selfListeners: MemberListener[] = [];
  /** Recent joiners of other cells (4 per cell, 64 cells): see rendezvous.ts. */
  private readonly rendezvous = new RendezvousCache(4, 64);

  constructor(opts: GossipOptions, modules: GossipModules) {
    this.opts = opts;
    this.self = modules.self;
    this.rng = modules.rng;
    this.outbox = modules.outbox;
    this.metrics = modules.metrics;
    this.stats = newGossipCounters(emptyReasonCounts(), emptyReasonCounts());
    this.awareness = new Awareness(opts.maxAwareness);
    this.draft = initialRecord(this.self, opts.cluster, opts.incarnation, {});
    this.membership = new Membership(
      {
        suspicionMinMs: opts.suspicionMinMs,
        suspicionMaxMs: opts.suspicionMaxMs,
        expectedConfirmations: opts.monitors - 1,
        failedRetentionMs: opts.failedRetentionMs,
      },
      this.draft,
      0,
    );
    if (this.metrics) {
      const metrics = this.metrics;
      this.membership.onEvent((ev) => metrics.memberStatus(ev.status, ev.previous));
    }
    this.cellEvents = new CellEvents({
      self: this.self,
      opts,
      membership: this.membership,
      timers: this.timers,
      stats: this.stats,
      metrics: this.metrics,
      hooks: {
        send: (to, payload) => this.send(to, payload),
        publish: (payload, ownBytes, now) => {
          this.publish(this.layout.cellTopic, 'cell', payload);
          this.cellPacer.charge(now, ownBytes, this.cellPublishers());
        },
        refute: (incarnation, now) => this.refute(incarnation, now),
        incarnation: () => this.draft.incarnation,
      },
    });
    this.fd = new FailureDetector(opts, {
      rng: this.rng.fork('probe'),
      awareness: this.awareness,
      hooks: {
        send: (to, payload) => this.send(to, payload),
        reply: (to, payload) => this.reply(to, payload),
        accuse: (target, now) => this.cellEvents.accuse(target, now),
        successors: () => this.cellEvents.probeTargets(),
        helpers: (target, k) => this.membership.randomAlive(k, target, this.rng),
      },
    });
    this.cellEvents.attach(this.fd);
    this.bitsCtl = new CellBitsController(opts, 0);
    this.layout = new Layout(opts.cluster, this.self, this.bitsCtl.bits);
    this.store = new SummaryStore(this.layout.bits);
    this.myGlobalTopic = globalTopic(opts.cluster);
    this.estimate = opts.expectedClusterSize;
    this.reporter = new Reporter({
      self: this.self,
      opts,
      rng: this.rng,
      layout: this.layout,
      membership: this.membership,
      store: this.store,
      awareness: this.awareness,
      timers: this.timers,
      stats: this.stats,
      globalTopic: this.myGlobalTopic,
      hooks: {
        publish: (topic, kind, payload) => this.publish(topic, kind, payload),
        send: (to, payload) => this.send(to, payload),
        dial: (peer, addrs) => this.dial(peer, addrs),
        refuse: (reason, action) => this.refuse(reason, action),
        cellSynced: () => this.cellSynced,
      },
    });
    this.syncIntervalMs = Math.min(FIRST_SYNC_INTERVAL_MS, opts.syncIntervalMs);
  }

  // ==========================================================================================
  // Driver-facing API

  /** Facts about this host (capacity, free, labels, …). Before start it only sets the first record; after, the node decides when to publish. */
  updateSelf(patch: SelfPatch, now: Millis): void {
    this.draft = applyPatch(this.draft, patch);
    this.membership.setSelf(this.draft, now);
    if (!this.started || this.stopped) return;
    if (this.published && recordChanged(this.published, this.draft, this.opts.significantFreeFraction)) {
      // Less room than peers believe: routing on the old record would be turned down.
      if (recordShrank(this.published, this.draft, this.opts.significantFreeFraction)) this.recordUrgent = true;
      const at = Math.max(now, this.lastRecordAtMs + this.opts.recordMinIntervalMs);
      if (at < this.timers[T_RECORD]!) this.timers[T_RECORD] = at;
    }
    this.reporter.summarySoon(now);
  }

  /** Lifeguard: load the driver measures (event-loop lag, …) in awareness units, 0 = healthy. */
  setLocalHealth(score: number): void {
    this.awareness.setExternal(score);
  }

  /** Member status changes in the own cell, and this node's own incarnation bumps (persist those: peer === self). */
  onMemberEvent(listener: (ev: MemberEvent) => void): void {
    this.membership.onEvent(listener);
    this.selfListeners.push(listener);
  }

  /** Seeds to join through (push-pull sync). Safe to call before or after start, and again later. */
  join(seeds: readonly SeedPeer[], now: Millis): void {
    for (const s of seeds) {
      if (s.peer === this.self || this.seeds.some((x) => x.peer === s.peer)) continue;
      if (this.seeds.length >= MAX_SEEDS) this.seeds.shift();
      this.seeds.push(s);
    }
    this.joined = false;
    this.joinAttempts = 0;
    if (this.started && !this.stopped) this.tryJoin(now);
  }

  get incarnation(): number {
    return this.draft.incarnation;
  }

  get localHealth(): number {
    return this.awareness.score;
  }

  // ==========================================================================================
  // ProtocolNode

  start(now: Millis): void {
    if (this.started) return;
    this.started = true;
    this.startedAtMs = now;
    this.bitsCtl.reset(now);
    this.cellPacer = new PublishPacer(this.opts.cellTopic, now);
    this.reporter.start(now);
    this.syncTokens = new TokenBucket(this.opts.syncServePerSec, 2 * this.opts.syncServePerSec, now);
    this.lightTokens = new TokenBucket(LIGHT_SYNC_FACTOR * this.opts.syncServePerSec, 2 * LIGHT_SYNC_FACTOR * this.opts.syncServePerSec, now);
    this.membership.setSelf(this.draft, now);
    this.enterLayout(this.layout.bits, now);
    this.subscribe(this.myGlobalTopic, 'global', 'global');
    if (this.seeds.length > 0) this.deferFirstRecord(now);
    else this.publishRecord(now, true);
    this.fd.start(now);
    this.updateRoles(now);
    this.timers[T_MAINT] = now + MAINT_INTERVAL_MS;
    this.timers[T_SYNC] = now + this.jitter(this.syncIntervalMs);
    this.timers[T_RECONNECT] = now + this.jitter(this.opts.reconnectIntervalMs);
    this.timers[T_REPAIR] = now + this.jitter(this.opts.summaryRepairIntervalMs);
    if (this.seeds.length > 0) this.tryJoin(now);
    this.refreshConnections(now);
  }

  stop(now: Millis): void {
    if (!this.started || this.stopped) return;
    // Graceful leave: peers mark us `left` at once instead of suspecting us for seconds.
    const leave = encodeEvents(this.opts.cluster, this.self, [{ kind: 'left', peer: this.self, incarnation: this.draft.incarnation, confirmations: 0 }]);
    this.publish(this.layout.cellTopic, 'cell', leave);
    if (this.oldCellTopic) this.publish(this.oldCellTopic, 'cell', leave);
    this.cellPacer.charge(now, wireSize(leave), this.cellPublishers());
    for (const topic of this.topics.keys()) this.outbox.unsubscribe(topic);
    this.topics.clear();
    this.fd.stop();
    this.timers.fill(Infinity);
    this.stopped = true;
  }

  nextTimerAtMs(): Millis {
    if (!this.started || this.stopped) return Infinity;
    let min = this.fd.nextTimerAtMs();
    const m = this.membership.nextTimerAtMs();
    if (m < min) min = m;
    const t = this.timers;
    for (let i = 0; i < TIMER_COUNT; i++) if (t[i]! < min) min = t[i]!;
    return min;
  }

  onTimer(now: Millis): void {
    if (!this.started || this.stopped) return;
    const failed = this.membership.tick(now);
    if (failed) for (const peer of failed) this.cellEvents.onLocallyFailed(peer, now);
    this.fd.onTimer(now);
    const t = this.timers;
    if (t[T_FALLBACK]! <= now) this.cellEvents.runFallbacks(now);
    if (t[T_EVENTS]! <= now) this.cellEvents.flush(now);
    if (t[T_RECORD]! <= now) this.recordTimer(now);
    if (t[T_TRANSITION]! <= now) this.endTransition();
    if (t[T_SYNC]! <= now) this.syncTimer(now);
    if (t[T_JOIN]! <= now) this.joinTimer(now);
    if (t[T_RECONNECT]! <= now) this.reconnectTimer(now);
    if (t[T_REPAIR]! <= now) this.repairTimer(now);
    if (t[T_MAINT]! <= now) this.maintenance(now);
    this.afterChange(now);
    if (t[T_SUMMARY]! <= now) this.reporter.summaryTimer(now);
    if (t[T_DIGEST]! <= now) this.reporter.digestTimer(now);
  }

  onTopicMessage(topic: string, _from: PeerIdStr, origin: PeerIdStr, payload: Encoded, now: Millis): Verdict {
    if (!this.started || this.stopped) return 'ignore';
    const sub = this.topics.get(topic);
    if (!sub) return this.refuse('GOSSIP_UNKNOWN_TOPIC', 'ignore');
    this.countIn(sub.kind, wireSize(payload));
    try {
      const msg = payload.msg as TopicMsg;
      let verdict: Verdict;
      switch (msg.type) {
        case 'record':
          verdict = sub.kind === 'cell' ? this.onRecord(msg.record, origin, sub.role, now) : this.refuse('GOSSIP_WRONG_TOPIC', 'reject');
          break;
        case 'events':
          verdict = sub.kind === 'cell' ? this.onEvents(msg, origin, sub.role, now) : this.refuse('GOSSIP_WRONG_TOPIC', 'reject');
          break;
        case 'summary':
          verdict = sub.kind === 'district' ? this.reporter.onSummary(msg.summary, origin, now) : this.refuse('GOSSIP_WRONG_TOPIC', 'reject');
          break;
        case 'digest':
          verdict = sub.kind === 'global' ? this.reporter.onDigest(msg, origin, now) : this.refuse('GOSSIP_WRONG_TOPIC', 'reject');
          break;
        default:
          verdict = this.refuse('GOSSIP_BAD_TYPE', 'reject');
      }
      this.afterChange(now);
      return verdict;
    } catch (err) {
      return verdictOf(err, this);
    }
  }

  onDirect(from: PeerIdStr, payload: Encoded, now: Millis): void {
    if (!this.started || this.stopped) return;
    this.countIn('direct', wireSize(payload));
    try {
      const msg = payload.msg as DirectMsg;
      switch (msg.type) {
        case 'ping':
          this.fd.onPing(from, msg.seq);
          break;
        case 'ack':
          this.fd.onAck(msg.seq);
          break;
        case 'nack':
          this.fd.onNack(msg.seq);
          break;
        case 'ping-req':
          // Only members may use us as a relay: no reflection service for strangers.
          if (this.membership.get(from)) this.fd.onPingReq(from, msg.seq, msg.target, now);
          else this.refuse('GOSSIP_UNKNOWN_MEMBER', 'ignore');
          break;
        case 'accuse':
          if (this.membership.get(from)) this.cellEvents.aggregate(msg.peer, msg.incarnation, from, now);
          else this.refuse('GOSSIP_UNKNOWN_MEMBER', 'ignore');
          break;
        case 'sync-req':
          this.serveSync(from, msg, now);
          break;
        case 'sync-resp':
          this.onSyncResp(from, msg, now);
          break;
        case 'summary':
          this.reporter.onDirectSummary(msg.summary, from, now);
          break;
      }
      this.afterChange(now);
    } catch (err) {
      verdictOf(err, this);
    }
  }

  // ==========================================================================================
  // ClusterView

  get cellBits(): number {
    return this.layout.bits;
  }

  get ownCell(): number {
    return this.layout.cell;
  }

  get district(): number {
    return this.layout.district;
  }

  get cellBitsSinceMs(): Millis {
    return this.layout.sinceMs;
  }

  selfRecord(): HostRecord {
    return this.draft;
  }

  cellMembers(): Iterable<MemberView> {
    return this.membership.viewMap().values();
  }

  cellMemberMap(): ReadonlyMap<PeerIdStr, MemberView> {
    return this.membership.viewMap();
  }

  cellMember(peer: PeerIdStr): MemberView | undefined {
    return this.membership.get(peer);
  }

  cellSummaries(): Iterable<CellSummary> {
    return this.store.values();
  }

  cellSummary(cell: number): CellSummary | undefined {
    return this.store.get(cell);
  }

  knownSummaries(): number {
    return this.store.size;
  }

  estimatedClusterSize(): number {
    return this.estimate;
  }

  counters(): Readonly<GossipCounters> {
    const s = this.stats;
    for (const kind of TRAFFIC_KINDS) {
      const i = 2 * TRAFFIC_INDEX[kind];
      s.received[kind].msgs = this.traffic[i]!;
      s.received[kind].bytes = this.traffic[i + 1]!;
      s.sent[kind].msgs = this.traffic[TRAFFIC_SENT + i]!;
      s.sent[kind].bytes = this.traffic[TRAFFIC_SENT + i + 1]!;
    }
    s.suspicions = this.membership.suspicions;
    s.refutations = this.membership.refutations;
    s.failures = this.membership.failures;
    s.eventsDropped = this.cellEvents.dropped;
    s.probesSent = this.fd.counters.probesSent;
    s.probesFailed = this.fd.counters.probesFailed;
    return s;
  }

  /** Queue depths against their stated bounds (the simulator asserts depth ≤ bound). */
  queueDepths(): { events: [number, number]; relays: [number, number]; pendingSyncs: [number, number]; dirtySummaries: [number, number] } {
    return {
      events: [this.cellEvents.queued, this.opts.maxQueuedEvents],
      relays: [this.fd.pendingRelays, MAX_RELAYS],
      pendingSyncs: [this.pendingSyncs.size, MAX_PENDING_SYNCS],
      dirtySummaries: [this.reporter.dirtyCount, MAX_DIRTY],
    };
  }

  /** Age of the least recently refreshed alive member's information, in ms. */
  oldestRecordAgeMs(now: Millis): number {
    return this.membership.oldestUpdateMs(now);
  }

  /** Diagnostics for `shoal info` and tests. */
  roles(): { rank: number; delegate: boolean; districtReporter: boolean; subscriptions: string[]; connections: PeerIdStr[] } {
    return { rank: this.rank, delegate: this.isDelegate, districtReporter: this.reporter.isDistrictReporter(), subscriptions: [...this.topics.keys()], connections: [...this.connected] };
  }

  // ==========================================================================================
  // RefusalSink

  refused(reason: GossipReason, action: GossipAction): void {
    if (action === 'reject') this.stats.rejected[reason]++;
    else this.stats.ignored[reason]++;
    this.metrics?.refused(reason, action);
  }

  private refuse(reason: GossipReason, action: GossipAction): Verdict {
    this.refused(reason, action);
    return action;
  }

  // ==========================================================================================
  // Effects

  private publish(topic: string, kind: TrafficKind, payload: Encoded): void {
    this.outbox.publish(topic, payload);
    this.countOut(kind, wireSize(payload));
  }

  private send(to: PeerIdStr, payload: Encoded): void {
    // A peer we talk to but have not asked a connection for (a new ring neighbour, a helper,
    // a sync partner): ask now, with the addresses we know, so the message has a way to go.
    if (!this.connected.has(to) && !this.dialAsked.has(to)) {
      const addrs = this.membership.get(to)?.record.addrs;
      if (addrs && addrs.length > 0) {
        this.outbox.connect(to, addrs);
        if (this.dialAsked.size < MAX_DIAL_ASKED) this.dialAsked.add(to);
      }
    }
    this.reply(to, payload);
  }

  /**
   * An answer to a peer whose message just reached us (an ack, a sync answer): the link is
   * there, so no connection is asked for. Two set lookups per send were a tenth of the
   * simulator's time at 20k hosts, and acks are half the sends.
   */
  private reply(to: PeerIdStr, payload: Encoded): void {
    this.outbox.send(to, payload);
    this.countOut('direct', wireSize(payload));
  }

  private countOut(kind: TrafficKind, bytes: number): void {
    const i = TRAFFIC_SENT + 2 * TRAFFIC_INDEX[kind];
    this.traffic[i]!++;
    this.traffic[i + 1]! += bytes;
    this.metrics?.messageSent(kind, bytes);
  }

  private countIn(kind: TrafficKind, bytes: number): void {
    const i = 2 * TRAFFIC_INDEX[kind];
    this.traffic[i]!++;
    this.traffic[i + 1]! += bytes;
    this.metrics?.messageReceived(kind, bytes);
  }

  /** Ask for a connection to `peer` unless we hold one. */
  private dial(peer: PeerIdStr, addrs: readonly string[]): void {
    if (!this.connected.has(peer)) this.outbox.connect(peer, addrs);
  }

  private subscribe(topic: string, kind: TopicKind, role: TopicRole): void {
    if (this.topics.has(topic)) {
      this.topics.set(topic, { kind, role });
      return;
    }
    this.topics.set(topic, { kind, role });
    this.outbox.subscribe(topic);
  }

  private unsubscribe(topic: string): void {
    if (this.topics.delete(topic)) this.outbox.unsubscribe(topic);
  }

  private jitter(ms: number): number {
    const j = this.opts.heartbeatJitter;
    return ms * (1 - j + 2 * j * this.rng.next());
  }

  // ==========================================================================================
  // Layout: cellBits, cell, district, topics

  private enterLayout(bits: number, now: Millis): void {
    this.layout.enter(bits, now);
    this.subscribe(this.layout.cellTopic, 'cell', 'cell');
    this.metrics?.cellBits(this.layout.bits);
  }

  private changeLayout(bits: number, now: Millis): void {
    // Queued news is for the cell we leave, and all of it still listens there: a newcomer's
    // announcement dropped at a split (its host now in the sibling cell) left that host unknown
    // to its new cell-mates until its first heartbeat (a 1k join wave, seed 13).
    this.cellEvents.flush(now);
    const oldBits = this.layout.bits;
    const oldCellTopic = this.layout.cellTopic;
    if (this.isDelegate) this.unsubscribe(this.layout.districtTopic);
    this.isDelegate = false;
    if (this.oldCellTopic) this.unsubscribe(this.oldCellTopic);
    this.store.setCellBits(bits);
    this.enterLayout(bits, now);
    this.layoutChangedAtMs = now;
    // Stay on the old cell topic for a while to hear peers that have not switched yet.
    this.topics.set(oldCellTopic, { kind: 'cell', role: 'old-cell' });
    this.oldCellTopic = oldCellTopic;
    this.timers[T_TRANSITION] = now + this.opts.cellBitsTransitionMs;
    if (bits > oldBits) {
      // Split: members of the sibling cell are no longer ours. No events: they did not fail.
      for (const peer of this.membership.retain((p) => this.layout.cellOf(p) === this.layout.cell)) {
        this.cellEvents.forget(peer);
      }
    } else {
      // Merge: pull the records of the cells that merged into ours from one of their contacts.
      for (const s of this.store.values()) {
        if (s.cellBits === oldBits && s.cellBits >= bits && s.cell >>> (s.cellBits - bits) === this.layout.cell && s.cell !== hashPrefix(this.self, oldBits)) {
          const contact = s.contacts.find((c) => c.peer !== this.self);
          if (contact) this.requestSync(contact.peer, contact.addrs, true, -1, now, 0);
        }
      }
    }
    this.reporter.layoutChanged(now);
    this.rendezvous.clear();
    const split = bits > oldBits;
    this.cellSynced = split; // a split keeps a subset of what we had; a merge needs the sibling's records
    if (!split) {
      // After a merge, peers switch over several maintenance ticks and miss each other's first
      // records on the new topic: run the fast anti-entropy rounds again, as after a start, and
      // tell the merged cell who we are. A split needs neither: every member of the new cell
      // was a member of the old one, so each already holds the others' records; announcing
      // anyway sent every member every cell mate's record again at each split.
      this.fastAntiEntropy(now);
    }
    this.stats.cellBitsChanges++;
    this.ringVersionSeen = -1; // recompute roles against the new topics
    if (!split) this.publishRecord(now, true);
    this.lastConnectAtMs = -Infinity;
  }

  private endTransition(): void {
    this.timers[T_TRANSITION] = Infinity;
    if (this.oldCellTopic) this.unsubscribe(this.oldCellTopic);
    this.oldCellTopic = null;
  }

  /** After any handler: roles follow the ring (reporter, delegates), the reporter follows its cell. */
  private afterChange(now: Millis): void {
    if (this.membership.syncRing() !== this.ringVersionSeen) this.updateRoles(now);
    if (this.rank === 0) this.reporter.followCell(now);
  }

  private updateRoles(now: Millis): void {
    this.ringVersionSeen = this.membership.syncRing();
    this.rank = this.membership.selfRank(Math.max(this.opts.districtDelegates, 1));
    const delegate = this.rank < this.opts.districtDelegates;
    if (delegate && !this.isDelegate) this.subscribe(this.layout.districtTopic, 'district', 'district');
    if (!delegate && this.isDelegate) this.unsubscribe(this.layout.districtTopic);
    this.isDelegate = delegate;
    this.reporter.rolesChanged(this.rank, delegate, now);
    // New neighbours on the ring: ask for connections now (at most once a second, else at the next maintenance tick).
    if (now - this.lastConnectAtMs > 1000) this.refreshConnections(now);
    else this.connectionsDirty = true;
  }

  // ==========================================================================================
  // Own record

  /** Publishers sharing the cell topic: the members we know, or the mean cell size if more (a cold start knows few). */
  private cellPublishers(): number {
    const mean = this.estimate / 2 ** this.layout.bits;
    const live = this.membership.liveCount;
    return live > mean ? live : mean;
  }

  private publishRecord(now: Millis, force: boolean): void {
    if (!force) {
      const ready = this.cellPacer.readyAtMs(now, this.lastRecordBytes, this.cellPublishers());
      if (ready > now) {
        this.timers[T_RECORD] = ready;
        return;
      }
    }
    const record: HostRecord = { ...this.draft, seq: this.published && this.published.incarnation === this.draft.incarnation ? this.published.seq + 1 : this.draft.seq };
    const enc = encodeRecord(record);
    this.publish(this.layout.cellTopic, 'cell', enc);
    if (this.oldCellTopic) this.publish(this.oldCellTopic, 'cell', enc);
    this.cellPacer.charge(now, wireSize(enc), this.cellPublishers());
    this.stats.recordsPublished++;
    this.lastRecordBytes = wireSize(enc);
    this.draft = record;
    this.published = record;
    this.membership.setSelf(record, now);
    this.lastRecordAtMs = now;
    this.recordUrgent = false;
    this.firstRecordPending = false;
    this.scheduleRecordHeartbeat(now);
  }

  /**
   * The next refresh of the own record; an unhealthy node (Lifeguard awareness) refreshes less
   * often. The first one after start is drawn over a whole period, ½ to 1½ of it, as memberlist
   * staggers its tickers: hosts started together (a warm start, a row of racks powered on)
   * otherwise refresh in waves, and ± jitter takes many periods to spread them (Floyd and
   * Jacobson, "The Synchronization of Periodic Routing Messages"). At 100k, with `large`'s
   * 120-s heartbeat, the waves doubled a host's received messages for a minute at a time.
   */
  private scheduleRecordHeartbeat(now: Millis): void {
    const period = this.recordPhaseDrawn ? this.jitter(this.opts.recordHeartbeatMs) : this.opts.recordHeartbeatMs * (0.5 + this.rng.next());
    this.recordPhaseDrawn = true;
    this.timers[T_RECORD] = now + period * this.awareness.factor;
  }

  private recordTimer(now: Millis): void {
    this.timers[T_RECORD] = Infinity;
    this.publishRecord(now, this.recordUrgent || this.firstRecordPending);
  }

  /**
   * A joiner does not publish its first record: it pushes it in its join syncs, and its cell's
   * aggregator announces it in an `alive` event, batched with other newcomers'. A wave of 100
   * joiners a second into 1,000 hosts otherwise put one record per joiner on the cell topics,
   * each received ~5 times by every cell-mate (gossipsub's duplicates): 3× the steady message
   * rate. The record counts as published (it is what the syncs push); if no aggregator takes it
   * over in time, or a cell-mate answers without doing so, the joiner publishes it itself.
   */
  private deferFirstRecord(now: Millis): void {
    this.published = this.draft;
    this.lastRecordAtMs = now;
    this.firstRecordPending = true;
    this.timers[T_RECORD] = now + FIRST_RECORD_FALLBACK_SYNCS * this.opts.syncTimeoutMs;
  }

  /** A cell-mate answered our sync: it announces our first record, or the aggregator it told us of will, or we do. */
  private firstRecordAnswered(from: PeerIdStr, announced: boolean, now: Millis): void {
    if (!announced) {
      // Our first cell-mate is often not the aggregator (we sync with whoever we heard first);
      // its answer told us who is.
      const agg = this.membership.lowest(1)[0]?.record;
      if (!this.firstRecordHandedOver && agg !== undefined && agg.origin !== this.self && agg.origin !== from) {
        this.firstRecordHandedOver = true;
        this.requestSync(agg.origin, agg.addrs, true, -1, now, 0);
      } else {
        this.publishRecord(now, true);
      }
      return;
    }
    this.firstRecordPending = false;
    this.stats.recordsAnnouncedForUs++;
    this.scheduleRecordHeartbeat(now);
  }

  /** Someone says we are suspect or failed at `incarnation`: outbid it and tell the cell at once. */
  private refute(incarnation: number, now: Millis): void {
    const next = Math.max(incarnation, this.draft.incarnation) + 1;
    this.draft = { ...this.draft, incarnation: next, seq: 0 };
    this.awareness.worse();
    this.stats.selfRefutations++;
    this.metrics?.selfRefuted();
    this.publishRecord(now, true);
    const ev: MemberEvent = { peer: this.self, status: 'alive', previous: 'alive', incarnation: next, atMs: now };
    for (const l of this.selfListeners) l(ev);
  }

  // ==========================================================================================
  // Cell topic

  private onRecord(record: HostRecord, origin: PeerIdStr, role: TopicRole, now: Millis): Verdict {
    if (record.origin !== origin) return this.refuse('GOSSIP_ORIGIN_MISMATCH', 'reject');
    if (record.cluster !== this.opts.cluster) return this.refuse('GOSSIP_WRONG_CLUSTER', 'reject');
    return this.takeCellRecord(record, role, now) ? 'accept' : this.refuse('GOSSIP_STALE', 'ignore');
  }

  /** A record heard on a cell topic: published by its host, or announced for it by the aggregator. False when stale. */
  private takeCellRecord(record: HostRecord, role: TopicRole, now: Millis): boolean {
    if (record.origin === this.self) {
      // Our own id, newer than anything we published: another instance of us is talking (or
      // the agent lost its incarnation). Outbid it so our own record wins.
      const mine = this.published;
      if (mine && (record.incarnation > mine.incarnation || (record.incarnation === mine.incarnation && record.seq > mine.seq))) this.refute(record.incarnation, now);
      return false;
    }
    // On the old cell topic during a transition: valid for the topic, but maybe not our cell any more.
    if (role === 'old-cell' && this.layout.cellOf(record.origin) !== this.layout.cell) return true;
    const r = this.membership.applyRecord(record, now);
    if (r === 'stale') return false;
    if (r === 'revived') this.cellEvents.clearSuspicion(record.origin);
    // New here: the first cell-mate we hear from can tell us about the ones we missed.
    if (r === 'new' && !this.cellSynced && this.pendingSyncs.size === 0) this.requestSync(record.origin, record.addrs, true, -1, now, 0);
    return true;
  }

  private onEvents(msg: EventsMsg, origin: PeerIdStr, role: TopicRole, now: Millis): Verdict {
    if (msg.origin !== origin) return this.refuse('GOSSIP_ORIGIN_MISMATCH', 'reject');
    for (const ev of msg.events) {
      if (ev.kind === 'alive') {
        this.takeCellRecord(ev.record!, role, now);
        continue;
      }
      this.cellEvents.heard(ev, now);
    }
    // Stale news for us may be fresh for peers downstream: a valid events message is forwarded.
    return 'accept';
  }

  // ==========================================================================================
  // Sync (push-pull): join and anti-entropy

  private tryJoin(now: Millis): void {
    if (this.joined || this.seeds.length === 0) return;
    const picks = this.seeds.length <= 3 ? this.seeds : [0, 1, 2].map(() => this.seeds[this.rng.int(this.seeds.length)]!);
    for (const s of picks) this.requestSync(s.peer, s.addrs, true, 0, now, 0);
    this.joinAttempts++;
    const backoff = Math.min(this.opts.joinRetryMaxMs, this.opts.syncTimeoutMs * 2 ** Math.min(this.joinAttempts - 1, 16));
    this.timers[T_JOIN] = now + backoff;
  }

  private joinTimer(now: Millis): void {
    this.timers[T_JOIN] = Infinity;
    for (const [peer, p] of this.pendingSyncs) if (p.deadlineMs <= now) this.pendingSyncs.delete(peer);
    this.tryJoin(now);
  }

  private requestSync(peer: PeerIdStr, addrs: readonly string[] | null, wantRecords: boolean, cursor: number, now: Millis, pages: number, repair = false, have: Uint8Array | null = null): void {
    if (peer === this.self) return;
    if (!this.pendingSyncs.has(peer) && this.pendingSyncs.size >= MAX_PENDING_SYNCS) return;
    this.pendingSyncs.set(peer, { deadlineMs: now + this.opts.syncTimeoutMs, pages, repair });
    if (addrs && addrs.length > 0) this.dial(peer, addrs);
    // Our view hash lets a peer with the same view answer in a few bytes; a joiner (not yet synced) asks for everything.
    const viewHash = wantRecords && this.cellSynced ? this.membership.viewHash : -1;
    this.send(peer, encodeSyncReq({ cluster: this.opts.cluster, record: this.published, wantRecords, summaryCursor: cursor, viewHash, have }));
  }

  private syncTimer(now: Millis): void {
    this.timers[T_SYNC] = Infinity;
    for (const [peer, p] of this.pendingSyncs) if (p.deadlineMs <= now) this.pendingSyncs.delete(peer);
    const peer = this.membership.randomAlive(1, null, this.rng)[0];
    if (peer) this.requestSync(peer, null, true, -1, now, 0);
    else this.syncWithCellContact(now);
    this.timers[T_SYNC] = now + this.jitter(this.syncIntervalMs);
    if (++this.syncRounds >= FAST_SYNC_ROUNDS) this.syncIntervalMs = Math.min(this.opts.syncIntervalMs, this.syncIntervalMs * 2);
  }

  /**
   * Serf's reconnect: push-pull with one member we hold failed. If it answers, it was cut off,
   * not dead: its answer shows us failed in its view (we refute), and if we still hold it
   * failed we accuse it directly (it refutes; see onSyncResp), so the two halves of a healed
   * partition merge without waiting for a restart.
   */
  private reconnectTimer(now: Millis): void {
    this.timers[T_RECONNECT] = now + this.jitter(this.opts.reconnectIntervalMs);
    const failed = this.membership.randomFailed(this.rng);
    if (failed !== undefined) this.requestSync(failed.origin, failed.addrs, true, -1, now, 0);
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
  private repairTimer(now: Millis): void {
    this.timers[T_REPAIR] = now + this.jitter(this.opts.summaryRepairIntervalMs);
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
    if (now < this.layoutChangedAtMs + MAX_FIRST_SUMMARY_WAIT_MS) return;
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
    this.requestSync(peer, contact?.addrs ?? null, false, after, now, MAX_SYNC_PAGES, true, have);
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

  private serveSync(from: PeerIdStr, req: SyncReqMsg, now: Millis): void {
    if (req.cluster !== this.opts.cluster) {
      this.refuse('GOSSIP_WRONG_CLUSTER', 'ignore');
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
    if (pushed && pushed.origin !== from) this.refuse('GOSSIP_ORIGIN_MISMATCH', 'reject');
    else if (pushed && pushed.cluster === this.opts.cluster) {
      if (theirCell === this.layout.cell) {
        const r = this.membership.applyRecord(pushed, now);
        if (r === 'revived') this.cellEvents.clearSuspicion(from);
        // A member new to the cell: news for the whole cell. A restart or a return after a
        // partition still publishes its own record (announcing those too turned a 1k
        // partition-heal's layout into a 3-bit/4-bit mix that had not settled 90 s later).
        if (r === 'new') announced = this.announceNewcomer(pushed, now);
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
      page = ours ? { summaries: this.store.lacking(have, req.summaryCursor + 1 - 2 ** this.layout.bits, MAX_SYNC_SUMMARIES), next: -1 } : this.store.page(req.summaryCursor, MAX_SYNC_SUMMARIES);
      if (!req.wantRecords && members.length === 0) members = this.referral(req.summaryCursor, page.summaries, from, theirCell);
    }
    this.reply(from, encodeSyncAnswer({ cluster: this.opts.cluster, cellBits: this.layout.bits, estimatedSize: this.estimate, cell: this.layout.cell, members, inSync, announced, page }));
    this.stats.syncRequestsServed++;
  }

  /** As the cell's aggregator, take a newcomer's record over (see CellEvents.announceNewcomer); declined for a big record. */
  private announceNewcomer(record: HostRecord, now: Millis): boolean {
    if (this.rank !== 0) return false;
    if (wireSize(encodeRecord(record)) > MAX_ANNOUNCED_RECORD_BYTES) return false;
    this.cellEvents.announceNewcomer(record, now);
    return true;
  }

  private onSyncResp(from: PeerIdStr, resp: SyncRespMsg, now: Millis): void {
    const pending = this.pendingSyncs.get(from);
    if (!pending) {
      this.refuse('GOSSIP_UNKNOWN_MEMBER', 'ignore'); // unsolicited: never let a stranger inject state
      return;
    }
    this.pendingSyncs.delete(from);
    if (resp.cluster !== this.opts.cluster) {
      this.refuse('GOSSIP_WRONG_CLUSTER', 'ignore');
      return;
    }
    const light = resp.nextCursor === SYNC_ASK_ELSEWHERE;
    if (!this.joined) {
      // A joiner takes the cluster's layout rather than its own guess.
      this.estimate = Math.max(this.estimate, resp.estimatedSize);
      const d = this.bitsCtl.adopt(resp.cellBits, now);
      if (d) this.changeLayout(d.bits, now);
      if (!light) {
        this.joined = true;
        this.bitsCtl.joined(now);
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
        if (m.status !== 'alive' && m.status !== 'left' && m.statusIncarnation >= this.draft.incarnation) this.refute(m.statusIncarnation, now);
        else if (m.record.incarnation > this.draft.incarnation) this.refute(m.record.incarnation, now);
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
    if (cellMate && (status === 'failed' || status === 'suspect')) this.reply(from, encodeAccuse(from, this.membership.statusIncarnationOf(from)));
    if (!light && (resp.members.length > 0 || resp.inSync) && cellMate) {
      this.cellSynced = true;
      if (this.firstRecordPending) this.firstRecordAnswered(from, resp.announced, now);
    }
    for (const s of resp.summaries) if (!freshness(s.issuedAtMs, now, this.opts)) this.reporter.storeSummary(s, now);
    if (pending.repair) return;
    if (resp.nextCursor >= 0 && pending.pages < MAX_SYNC_PAGES) this.requestSync(from, null, false, resp.nextCursor, now, pending.pages + 1);
    // Answered by a peer of another cell, or only lightly: our own cell's contacts serve the rest.
    if (light || (!this.cellSynced && !cellMate)) this.syncWithCellContact(now, from, light ? 0 : -1);
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
    if (contact) this.requestSync(contact.peer, contact.addrs, true, cursor, now, 0);
  }

  // ==========================================================================================
  // Maintenance: cellBits, summary expiry, connections, metrics

  private maintenance(now: Millis): void {
    this.timers[T_MAINT] = now + MAINT_INTERVAL_MS;
    const expired = this.store.expire(now - this.opts.summaryTtlMs);
    if (expired > 0) this.reporter.summariesExpired(now);
    const warm = now - this.startedAtMs >= this.opts.cellBitsDwellMs;
    const evidence = this.store.evidence();
    this.estimate = estimateClusterSize(evidence, this.layout.bits, this.opts.minEstimateCoverage, this.opts.expectedClusterSize, warm);
    const d = this.bitsCtl.decide(now, this.estimate, this.store.majorityBits(), evidence.coverage >= this.opts.minEstimateCoverage);
    if (d) this.changeLayout(d.bits, now);
    // Also refresh when we had no remote contact to offer last time and now know other cells.
    const remoteMissing = this.remoteLinks.size === 0 && this.store.size > 1;
    if (this.connectionsDirty || remoteMissing || now - this.lastConnectAtMs >= this.opts.connectRefreshMs) this.refreshConnections(now);
    // Our cell's summary comes from a reporter we do not hold alive, or counts more members
    // than we know: we missed records (or were cut off from part of the cell and think it
    // dead). Push-pull with that reporter: each side learns the other's view, and a false
    // failure of either is refuted.
    const mine = this.store.get(this.layout.cell);
    this.reporter.checkStandIn(mine, now);
    if (mine && mine.reporter !== this.self && this.pendingSyncs.size === 0) {
      const reporterAlive = this.membership.statusOf(mine.reporter) === 'alive';
      if (!reporterAlive || mine.members > this.membership.liveCount) {
        const c = mine.contacts.find((x) => x.peer === mine.reporter) ?? mine.contacts.find((x) => x.peer !== this.self);
        if (c) this.requestSync(c.peer, c.addrs, true, -1, now, 0);
      }
    }
    // The oldest record's age is read when scraped (oldestRecordAgeMs): computing it here walked
    // every member of every node every tick, 5% of a 20k simulation that never read it.
    this.metrics?.queueDepth('relays', this.fd.pendingRelays);
  }

  /**
   * Ask the driver to keep connections: our ring neighbours and the aggregator (we talk to
   * them every second), a random sample of the cell (for its mesh), and a few contacts of
   * other cells (district and global meshes). Bounded: cellConnections + remoteConnections.
   */
  private refreshConnections(now: Millis): void {
    this.lastConnectAtMs = now;
    this.connectionsDirty = false;
    const { want, remote } = planConnections({
      self: this.self,
      ownCell: this.layout.cell,
      cellBits: this.layout.bits,
      monitors: this.opts.monitors,
      cellConnections: this.opts.cellConnections,
      remoteConnections: this.opts.remoteConnections,
      connected: this.connected,
      remoteKept: this.remoteLinks,
      membership: this.membership,
      store: this.store,
      rng: this.rng,
    });
    this.remoteLinks = remote;
    let newRemote = false;
    for (const [peer, addrs] of want) {
      if (this.connected.has(peer) || addrs.length === 0) continue;
      this.outbox.connect(peer, addrs);
      if (this.membership.get(peer) === undefined) newRemote = true;
    }
    // A new link to another cell may join two halves of the district mesh: our last summary never crossed it.
    if (newRemote) this.reporter.newRemoteLink(now);
    this.connected = new Set(want.keys());
    this.dialAsked.clear();
  }
}

