import type { Millis } from '../core/clock.ts';
import { wireSize, type Encoded, type Outbox, type ProtocolNode } from '../core/protocol.ts';
import { jittered, type Rng } from '../core/rng.ts';
import type { PeerIdStr, Verdict } from '../core/transport.ts';
import { AntiEntropy, MAX_PENDING_SYNCS, type SeedPeer } from './anti-entropy.ts';
import { CellBitsController, estimateClusterSize } from './cell-bits.ts';
import { CellEvents } from './cell-events.ts';
import { MAX_ANNOUNCED_RECORD_BYTES, encodeEvents, encodeRecord } from './codec.ts';
import { planConnections } from './connections.ts';
import { emptyReasonCounts, verdictOf, type GossipAction, type GossipReason, type RefusalSink } from './errors.ts';
import { FailureDetector, MAX_RELAYS } from './failure-detector.ts';
import { Layout } from './layout.ts';
import { Membership, type MemberEvent, type MemberListener } from './membership.ts';
import type { DirectMsg, EventsMsg, TopicMsg } from './messages.ts';
import { TRAFFIC_KINDS, newGossipCounters, type GossipCounters, type GossipMetrics, type TrafficKind } from './metrics.ts';
import type { GossipOptions } from './options.ts';
import { PublishPacer } from './pacer.ts';
import type { CellSummary, HostRecord, MemberView } from './records.ts';
import type { NodeContext } from './node-part.ts';
import { MAX_DIRTY, Reporter } from './reporter.ts';
import { applyPatch, initialRecord, recordChanged, recordShrank, type SelfPatch } from './self-record.ts';
import { SummaryStore } from './summary-store.ts';
import { Awareness } from './suspicion.ts';
import { T_DIGEST, T_EVENTS, T_FALLBACK, T_JOIN, T_MAINT, T_RECONNECT, T_RECORD, T_REPAIR, T_SUMMARY, T_SYNC, T_TRANSITION, TIMER_COUNT, newTimers, type Timers } from './timer-slots.ts';
import type { TopicKind } from './topics.ts';
import type { ClusterView } from './view.ts';

export interface GossipModules {
  readonly self: PeerIdStr;
  readonly rng: Rng;
  readonly outbox: Outbox;
  readonly metrics: GossipMetrics | null;
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
/**
 * A joiner publishes its first record itself when no aggregator has taken it over within this
 * many sync timeouts (no summary of its cell yet names a contact, or the contact is down).
 */
const FIRST_RECORD_FALLBACK_SYNCS = 2;

/**
 * One Shoal gossip participant, sans I/O: handlers are synchronous, take `now`, and push
 * their effects into the Outbox. See README.md for the protocol.
 *
 * The node owns the layout, its own record, its roles on the cell's ring and its connections,
 * and dispatches messages and timers to its parts: FailureDetector (probes), CellEvents
 * (accusations and member events), Reporter (cell summaries, district digests) and
 * AntiEntropy (push-pull: join, anti-entropy, summary repair). The parts share the node's
 * Membership, SummaryStore, Layout and timer table, and reach its effects through hooks.
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
  private readonly antiEntropy: AntiEntropy;
  private readonly reporter: Reporter;

  private started = false;
  private stopped = false;
  private startedAtMs = 0;
  private readonly timers: Timers = newTimers();

  // Layout.
  private readonly layout: Layout;
  private oldCellTopic: string | null = null;
  private readonly topics = new Map<string, Subscription>();
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

  // Connections.
  private connected = new Set<PeerIdStr>();
  private lastConnectAtMs = -Infinity;
  private connectionsDirty = false;
  /** Peers we asked a connection for outside the planned set since the last refresh (bounded by MAX_DIAL_ASKED). */
  private readonly dialAsked = new Set<PeerIdStr>();
  /** The remote contacts of the last connection plan, each with its cell's slot (kept while listed). */
  private remoteLinks = new Map<PeerIdStr, number>();

  private readonly selfListeners: MemberListener[] = [];

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
    this.bitsCtl = new CellBitsController(opts, 0);
    this.layout = new Layout(opts.cluster, this.self, this.bitsCtl.bits);
    this.store = new SummaryStore(this.layout.bits);
    this.estimate = opts.expectedClusterSize;
    const ctx: NodeContext = {
      self: this.self,
      opts,
      rng: this.rng,
      layout: this.layout,
      membership: this.membership,
      store: this.store,
      awareness: this.awareness,
      timers: this.timers,
      stats: this.stats,
      metrics: this.metrics,
      effects: {
        publish: (topic, kind, payload) => this.publish(topic, kind, payload),
        send: (to, payload) => this.send(to, payload),
        reply: (to, payload) => this.reply(to, payload),
        dial: (peer, addrs) => this.dial(peer, addrs),
        refuse: (reason, action) => this.refuse(reason, action),
        refute: (incarnation, now) => this.refute(incarnation, now),
        incarnation: () => this.draft.incarnation,
      },
    };
    this.cellEvents = new CellEvents(ctx, {
      publish: (payload, ownBytes, now) => {
        this.publish(this.layout.cellTopic, 'cell', payload);
        this.cellPacer.charge(now, ownBytes, this.cellPublishers());
      },
    });
    this.fd = new FailureDetector(opts, {
      rng: this.rng.fork('probe'),
      awareness: this.awareness,
      hooks: {
        send: ctx.effects.send,
        reply: ctx.effects.reply,
        accuse: (target, now) => this.cellEvents.accuse(target, now),
        successors: () => this.cellEvents.probeTargets(),
        helpers: (target, k) => this.membership.randomAlive(k, target, this.rng),
      },
    });
    this.cellEvents.attach(this.fd);
    this.reporter = new Reporter(ctx, {
      rank: () => this.rank,
      delegate: () => this.isDelegate,
      cellSynced: () => this.antiEntropy.cellSynced,
    });
    this.antiEntropy = new AntiEntropy(
      ctx,
      { reporter: this.reporter, cellEvents: this.cellEvents },
      {
        published: () => this.published,
        estimate: () => this.estimate,
        heardCluster: (cellBits, estimatedSize, complete, now) => this.heardCluster(cellBits, estimatedSize, complete, now),
        cellMateAnswered: (from, announced, now) => {
          if (this.firstRecordPending) this.firstRecordAnswered(from, announced, now);
        },
        announceNewcomer: (record, now) => this.announceNewcomer(record, now),
      },
    );
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
    this.antiEntropy.addSeeds(seeds);
    if (this.started && !this.stopped) this.antiEntropy.tryJoin(now);
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
    this.membership.setSelf(this.draft, now);
    this.layout.enter(this.layout.bits, now);
    this.subscribeCell();
    this.subscribe(this.layout.globalTopic, 'global', 'global');
    if (this.antiEntropy.hasSeeds) this.deferFirstRecord(now);
    else this.publishRecord(now, true);
    this.fd.start(now);
    this.updateRoles(now);
    this.timers[T_MAINT] = now + MAINT_INTERVAL_MS;
    this.antiEntropy.start(now);
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
    if (t[T_SYNC]! <= now) this.antiEntropy.syncTimer(now);
    if (t[T_JOIN]! <= now) this.antiEntropy.joinTimer(now);
    if (t[T_RECONNECT]! <= now) this.antiEntropy.reconnectTimer(now);
    if (t[T_REPAIR]! <= now) this.antiEntropy.repairTimer(now);
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
          this.antiEntropy.serveSync(from, msg, now);
          break;
        case 'sync-resp':
          this.antiEntropy.onSyncResp(from, msg, now);
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
      pendingSyncs: [this.antiEntropy.pendingCount, MAX_PENDING_SYNCS],
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

  // ==========================================================================================
  // Layout: cellBits, cell, district, topics

  /** Our cell's topic in the layout just entered. */
  private subscribeCell(): void {
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
    if (this.isDelegate) {
      this.unsubscribe(this.layout.districtTopic);
      this.reporter.leftDistrict();
    }
    this.isDelegate = false;
    if (this.oldCellTopic) this.unsubscribe(this.oldCellTopic);
    this.store.setCellBits(bits);
    this.layout.change(bits, now);
    this.subscribeCell();
    // Stay on the old cell topic for a while to hear peers that have not switched yet.
    this.topics.set(oldCellTopic, { kind: 'cell', role: 'old-cell' });
    this.oldCellTopic = oldCellTopic;
    this.timers[T_TRANSITION] = now + this.opts.cellBitsTransitionMs;
    const split = bits > oldBits;
    if (split) {
      // Members of the sibling cell are no longer ours. No events: they did not fail.
      for (const peer of this.membership.retain((p) => this.layout.cellOf(p) === this.layout.cell)) this.cellEvents.forget(peer);
    }
    this.antiEntropy.layoutChanged(oldBits, now);
    this.reporter.layoutChanged(now);
    this.stats.cellBitsChanges++;
    this.ringVersionSeen = -1; // recompute roles against the new topics
    // After a merge, tell the merged cell who we are. A split needs no announcement: every
    // member of the new cell was a member of the old one, so each already holds the others'
    // records; announcing anyway sent every member every cell mate's record again at each split.
    if (!split) this.publishRecord(now, true);
    this.lastConnectAtMs = -Infinity;
  }

  /** A joiner takes the cluster's layout rather than its own guess. */
  private heardCluster(cellBits: number, estimatedSize: number, complete: boolean, now: Millis): void {
    this.estimate = Math.max(this.estimate, estimatedSize);
    const d = this.bitsCtl.adopt(cellBits, now);
    if (d) this.changeLayout(d.bits, now);
    if (complete) this.bitsCtl.joined(now);
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
    if (delegate && !this.isDelegate) {
      this.subscribe(this.layout.districtTopic, 'district', 'district');
      this.reporter.joinedDistrict(now);
    }
    if (!delegate && this.isDelegate) {
      this.unsubscribe(this.layout.districtTopic);
      this.reporter.leftDistrict();
    }
    this.isDelegate = delegate;
    this.reporter.rankChanged(now);
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
    const period = this.recordPhaseDrawn ? jittered(this.opts.recordHeartbeatMs, this.opts.heartbeatJitter, this.rng) : this.opts.recordHeartbeatMs * (0.5 + this.rng.next());
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
        this.antiEntropy.syncWith(agg.origin, agg.addrs, now);
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
    if (r === 'new') this.antiEntropy.metCellMate(record, now);
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

  /** As the cell's aggregator, take a newcomer's record over (see CellEvents.announceNewcomer); declined for a big record. */
  private announceNewcomer(record: HostRecord, now: Millis): boolean {
    if (this.rank !== 0) return false;
    if (wireSize(encodeRecord(record)) > MAX_ANNOUNCED_RECORD_BYTES) return false;
    this.cellEvents.announceNewcomer(record, now);
    return true;
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
    if (mine && mine.reporter !== this.self && this.antiEntropy.pendingCount === 0) {
      const reporterAlive = this.membership.statusOf(mine.reporter) === 'alive';
      if (!reporterAlive || mine.members > this.membership.liveCount) {
        const c = mine.contacts.find((x) => x.peer === mine.reporter) ?? mine.contacts.find((x) => x.peer !== this.self);
        if (c) this.antiEntropy.syncWith(c.peer, c.addrs, now);
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

