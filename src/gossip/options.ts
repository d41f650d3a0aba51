import { ShoalError } from '../core/errors.ts';
import { MAX_CELL_BITS } from './topics.ts';
import { CLUSTER_RE } from './wire-check.ts';

/**
 * Gossip options. Every default says its unit and why. The profiles at the bottom are
 * PROVISIONAL: the simulator's sweeps (simulations/) are meant to justify or replace them.
 *
 * ## Budget (DESIGN.md: ≤ 20 msgs/s and ≤ 10 KB/s received per node at 100k, steady state)
 *
 * Layout at N = 100,000 and targetCellSize 48: cellBits 11 → 2,048 cells of ~49 hosts,
 * 64 cells per district → 32 districts. gossipsub (D = 6) hands a node each unique message
 * about 5 times (D − 1); IDONTWANT (gossipsub 1.2, messages ≥ 512 bytes) was expected to cut
 * that to ~2 for digests, but real gossipsub 17 skipped only 8% of the copies of 30-KB
 * messages in the simulator's calibration (simulations/README.md), so the ×5 figure in
 * brackets below is the one to hold the budget against. Measured sizes: record ~140 B (codec.test.ts), summary ~510 B (a simulated 100k cell: 3
 * zones, 3 contacts; ~850 B when buckets listed their labels and the reporter its peer id again), digest of 64 summaries ~15–30 KB, probe ~20 B.
 *
 * Each topic has a TOTAL budget of unique messages and bytes per second, shared by its
 * publishers (see pacer.ts), so the load a node receives does not depend on N:
 *
 *   topic                unique/s   unique B/s   received msgs/s      received B/s
 *   cell (records,       ≤ 1.5      ≤ 700        ≤ 7.5  (×5)          ≤ 3.5 KB (×5)
 *     events)            idle: 48 hosts / 60 s heartbeat ≈ 0.8/s (0.4/s with `large`)
 *   global (digests)     ≤ 0.5      ≤ 1,500      ≤ 2.5  (×5)          ≤ 3 KB   (×2, IDONTWANT) [7.5 KB ×5]
 *   district (summaries, ≤ 0.5      ≤ 500        ≤ 2.5  (×5)          ≤ 2.5 KB (×5)
 *     3 delegates/cell only)
 *   probes (direct)      —          —            4 (2 pings in, 2 acks in; no duplicates) ~0.1 KB
 *   anti-entropy sync    —          —            ~0.03 (1 per 60 s)   ~0 (a view-hash match answers in 21 B)
 *   -----------------------------------------------------------------------------------
 *   non-delegate                                 ≤ 14                 ≤ 6.7 KB  [11.2 KB]
 *   delegate (3 of 48)                           ≤ 16.6               ≤ 9.3 KB  [13.8 KB]
 *
 * So on paper the budget holds only if IDONTWANT works as hoped, or the global topic runs
 * below its budget. Measured over 120–600 s after a warm start of 100k: 8.7 KB/s received
 * per host with the simulator's model of IDONTWANT (it skips more copies than real gossipsub
 * did), 11.6 KB/s had it skipped none. Most of it is a cold start's settled summaries: a
 * district's digest of them overdraws its share of the global budget by minutes, so such
 * digests go out until ~360 s, each copy reaching a host ~4.5 times. Before summaries carried
 * their labels as a filter (~850 → ~560 B) they went out until ~540 s, and the figure was
 * 12.2 KB/s (simulations/README.md, "Global digests at 100k", "Smaller summaries").
 *
 * What that costs: under SUSTAINED change, a cell's own publisher share is
 * 1.5/48 ≈ one record per 32 s per host (a host whose capacity changes only now and then
 * still publishes at once, from saved-up burst credit); a cell's summary gets 0.5/64 ≈ one
 * per 128 s on its district topic and a district 0.5/32 ≈ one digest per 64 s globally.
 * So at 100k, remote cell summaries lag by minutes under heavy change: they are routing
 * hints; the contact of the chosen cell picks the host from its fresh full view and the
 * host's own ledger is the authority (DESIGN decision 4). At small N (one district, few
 * cells) the same budgets give each publisher far more, and summaries lag by seconds.
 *
 * Failure detection: ring monitoring. Each member pings its `monitors` (2) successors on
 * the cell's hash ring every `probeIntervalMs` (1 s): 2 pings + 2 acks received per second.
 * Crash at t=0 → probed by ≤ 1 s → ack timeout 0.5 s → ping-req timeout 0.5 s → accused at
 * ≤ 2 s; with both monitors accusing (one confirmation) Lifeguard's suspicion timeout is
 * `suspicionMinMs` (1 s), with one accuser `suspicionMaxMs` (2.5 s): failed at ≤ 4.5 s
 * plus propagation, under the 5 s p99 target. Accusations go to the cell's aggregator (its
 * lowest-hash alive member), which batches them into one events message every
 * `eventBatchMs`: a correlated failure of 30% costs a cell a handful of messages, not one
 * per dead host per accuser.
 */

/** A topic's total budget, shared by everyone who publishes on it. */
export interface TopicBudget {
  /** Unique messages per second the whole topic may carry. */
  readonly msgsPerSec: number;
  /** Unique bytes per second the whole topic may carry. */
  readonly bytesPerSec: number;
  /** How many messages' worth of credit a quiet publisher may save for a burst. */
  readonly burstMessages: number;
}

export interface GossipOptions {
  /** Cluster name: part of every topic name and checked on every message. */
  readonly cluster: string;
  /** This node's starting incarnation. The agent persists it and passes a higher one after every restart. */
  readonly incarnation: number;

  // --- cells ---------------------------------------------------------------------------
  /** Operator's hint of the cluster size (like Consul's bootstrap-expect), so a cold start of 100k does not begin in one giant cell. */
  readonly expectedClusterSize: number;
  /** A fixed cellBits overrides the estimate (tests use it to get several cells with 12 agents); null follows the estimate. */
  readonly cellBits: number | null;
  /** Mean cell size the estimate aims at. */
  readonly targetCellSize: number;
  /** Split when the mean cell exceeds target × (1 + h), merge below target × (1 − h); h > 1/3 so a split or merge never undoes itself. */
  readonly cellSizeHysteresis: number;
  /** Minimum time between two changes of cellBits, so cells change one bit at a time and settle in between. */
  readonly cellBitsDwellMs: number;
  /** After a change of cellBits, how long the node stays on its old cell topic to hear peers that have not switched yet. */
  readonly cellBitsTransitionMs: number;
  /** Fraction of the hash space the known summaries must cover before the estimate may override the hint. */
  readonly minEstimateCoverage: number;
  /** Members per cell (lowest hashes) that subscribe to the district topic and can relay digests. */
  readonly districtDelegates: number;

  // --- failure detection ---------------------------------------------------------------
  /** Successors on the cell's hash ring each member probes. */
  readonly monitors: number;
  readonly probeIntervalMs: number;
  readonly ackTimeoutMs: number;
  /** Helpers asked to ping a silent target (SWIM ping-req) before accusing it. */
  readonly indirectProbes: number;
  readonly indirectTimeoutMs: number;
  /** Suspicion timeout with all expected confirmations (Lifeguard's lower bound). */
  readonly suspicionMinMs: number;
  /** Suspicion timeout with a single accuser (Lifeguard's upper bound). */
  readonly suspicionMaxMs: number;
  /** Lifeguard's local-health ceiling: probe interval and timeouts stretch up to (1 + this)×. */
  readonly maxAwareness: number;
  /** An accuser publishes a suspicion itself when the aggregator has not within this time (the aggregator may be dead too). */
  readonly accuseFallbackMs: number;
  /** The aggregator batches accusations for this long before publishing one events message. */
  readonly eventBatchMs: number;
  /** Bound of the queue of member events waiting to be published (newer news about a peer replaces older). */
  readonly maxQueuedEvents: number;
  /** How long failed and left members stay in the view (for `shoal members` and the agent's evacuation) before they are dropped. */
  readonly failedRetentionMs: number;

  // --- own record ----------------------------------------------------------------------
  /** Republish the own record this often without changes (refresh for peers that missed one). */
  readonly recordHeartbeatMs: number;
  /** Never publish the own record more often than this. */
  readonly recordMinIntervalMs: number;
  /** A change of free capacity is significant when an axis moves by this fraction of its capacity (or a summary shape stops or starts fitting). */
  readonly significantFreeFraction: number;
  /** Heartbeats are spread ± this fraction so a cell does not publish in lockstep. */
  readonly heartbeatJitter: number;

  // --- summaries and digests -----------------------------------------------------------
  /** How often the cell reporter recomputes its cell's summary and checks whether it changed significantly. */
  readonly summaryCheckMs: number;
  /** Republish the cell summary this often without significant change. */
  readonly summaryHeartbeatMs: number;
  readonly summaryMinIntervalMs: number;
  /** A summary changes significantly when a fits count moves by this fraction (or between zero and non-zero). */
  readonly summaryChangeFraction: number;
  /** Contacts listed in a summary (lowest-hash alive members). */
  readonly summaryContacts: number;
  /** A summary not refreshed for this long is dropped (its whole cell is gone or unreachable). */
  readonly summaryTtlMs: number;
  readonly digestMinIntervalMs: number;
  /** A district reporter sends every summary it knows (not only changes) at least this often. */
  readonly digestFullIntervalMs: number;
  /** Summaries and digests issued further in the future than this are ignored. */
  readonly maxClockSkewMs: number;

  readonly cellTopic: TopicBudget;
  readonly districtTopic: TopicBudget;
  readonly globalTopic: TopicBudget;

  // --- sync (push-pull) ----------------------------------------------------------------
  readonly syncTimeoutMs: number;
  /** Anti-entropy: push-pull records with one random cell member this often. */
  readonly syncIntervalMs: number;
  /** Push-pull with one random member we hold failed this often (Serf's reconnect): a healed partition finds its way back. */
  readonly reconnectIntervalMs: number;
  /** While the own layout has cells without a summary, ask a district's delegate for that district's summaries this often. */
  readonly summaryRepairIntervalMs: number;
  /** Join retries back off up to this. */
  readonly joinRetryMaxMs: number;
  /** Sync requests this node serves per second (a cold start must not melt the seeds); others are dropped and retried elsewhere. */
  readonly syncServePerSec: number;

  // --- connections ---------------------------------------------------------------------
  /** Own-cell members to stay connected to, so the cell topic's mesh (D = 6) can form. */
  readonly cellConnections: number;
  /** Contacts of other cells to stay connected to, for the district and global meshes. */
  readonly remoteConnections: number;
  readonly connectRefreshMs: number;
}

export const defaultGossipOptions: GossipOptions = Object.freeze({
  // 'default': the agent passes the configured cluster name.
  cluster: 'default',
  // 0: a node that never restarted; the agent passes its persisted value + 1.
  incarnation: 0,

  // 1 host: without a hint a cluster starts as one cell and splits as it grows.
  expectedClusterSize: 1,
  // null: follow the estimate; only tests and special deployments pin it.
  cellBits: null,
  // 48 hosts: full records of 48 hosts at ~140 B are ~7 KB per node, and the cell topic's idle heartbeat load stays under 1.5 msgs/s.
  targetCellSize: 48,
  // 0.5 (split above 72, merge below 24): > 1/3 so a split never immediately merges back.
  cellSizeHysteresis: 0.5,
  // 60 s: long enough for summaries to reflect a change before the next one.
  cellBitsDwellMs: 60_000,
  // 30 s: several heartbeats and summary rounds, so the laggards' next check switches them.
  cellBitsTransitionMs: 30_000,
  // 0.5: half the hash space known makes the extrapolated estimate good to a few percent.
  minEstimateCoverage: 0.5,
  // 3 per cell: a reporter and two stand-ins for the district topic.
  districtDelegates: 3,

  // 2 successors: two independent monitors per member, 4 probe messages received per second.
  monitors: 2,
  // 1 s: crash known within 5 s at p99 (see the budget above).
  probeIntervalMs: 1000,
  // 500 ms: LAN and WAN-in-a-region round trips are far below; a loaded peer gets the slack.
  ackTimeoutMs: 500,
  // 2 helpers: SWIM's indirect probes rule out a broken link between prober and target.
  indirectProbes: 2,
  // 500 ms: two hops.
  indirectTimeoutMs: 500,
  // 1 s: with both monitors agreeing, little room for a refutation is needed.
  suspicionMinMs: 1000,
  // 2.5 s: a single accuser waits longer, bounded by the 5 s detection target.
  suspicionMaxMs: 2500,
  // 8: memberlist's awareness ceiling.
  maxAwareness: 8,
  // 750 ms: an aggregator answers within one event batch; beyond that it is probably dead.
  accuseFallbackMs: 750,
  // 200 ms: batches a correlated failure's accusations without delaying detection noticeably.
  eventBatchMs: 200,
  // 64 events: one full events message; a cell of 48 never needs more at once.
  maxQueuedEvents: 64,
  // 2 min: enough for the agent to evacuate and for `shoal members` to show the failure.
  failedRetentionMs: 120_000,

  // 60 s: 48 hosts → 0.8 msgs/s idle on the cell topic, half its budget; missed records are also repaired by anti-entropy.
  recordHeartbeatMs: 60_000,
  // 500 ms: a capacity change reaches the cell within ~1 s.
  recordMinIntervalMs: 500,
  // 5%: a 2-vCPU VM on a 64-vCPU host is not news on its own; a shape boundary still is.
  significantFreeFraction: 0.05,
  // ±20%: spreads heartbeats of hosts started together.
  heartbeatJitter: 0.2,

  // 1 s: recomputing a 48-member summary is microseconds.
  summaryCheckMs: 1000,
  // 60 s: summaries change rarely without load; the TTL is 5× this.
  summaryHeartbeatMs: 60_000,
  // 1 s: faster than the district budget allows at scale anyway.
  summaryMinIntervalMs: 1000,
  // 10%: fits counts are routing hints; smaller moves are not worth a message.
  summaryChangeFraction: 0.1,
  // 3 contacts: a router has fallbacks if one is down.
  summaryContacts: 3,
  // 5 min: 5 heartbeats.
  summaryTtlMs: 300_000,
  // 1 s.
  digestMinIntervalMs: 1000,
  // 60 s: a new node that missed the sync still learns every summary within a minute.
  digestFullIntervalMs: 60_000,
  // 10 s: NTP keeps hosts within milliseconds; this only guards against broken clocks.
  maxClockSkewMs: 10_000,

  // 1.5 msgs/s, 700 B/s unique for the whole cell (×5 received with gossipsub duplicates): see the budget table above.
  cellTopic: Object.freeze({ msgsPerSec: 1.5, bytesPerSec: 700, burstMessages: 3 }),
  // 0.5 msgs/s, 500 B/s unique for the district's 64 reporters; only 3 delegates per cell receive it.
  districtTopic: Object.freeze({ msgsPerSec: 0.5, bytesPerSec: 500, burstMessages: 3 }),
  // 0.5 msgs/s, 1.5 KB/s unique for all district reporters; digests are > 512 B so IDONTWANT keeps duplicates near 2×.
  globalTopic: Object.freeze({ msgsPerSec: 0.5, bytesPerSec: 1500, burstMessages: 2 }),

  // 2 s: a seed answers in milliseconds; it may be busy.
  syncTimeoutMs: 2000,
  // 60 s: memberlist's push-pull interval at ~50 members is 30–60 s.
  syncIntervalMs: 60_000,
  // 10 s: Serf tries a failed member every 30 s; a failed member is forgotten after
  // failedRetentionMs (120 s), so a partition that heals must be found well before that. One
  // sync request per interval, and only while the cell holds failed members.
  reconnectIntervalMs: 10_000,
  // 2 s: after a cold start of 100k hosts (32 districts) a node's gaps take ≥ 16 s to fill,
  // at ≤ 4 pages (one district each) per 2 s; nothing is sent once every cell is known.
  summaryRepairIntervalMs: 2000,
  // 30 s: a node with no reachable seed keeps trying without hammering.
  joinRetryMaxMs: 30_000,
  // 20/s: a full sync answer is ≤ 256 KB; 20/s bounds a seed to ~5 MB/s during a cold start.
  syncServePerSec: 20,

  // 8 peers: gossipsub needs D = 6 mesh peers, plus slack.
  cellConnections: 8,
  // 4 peers: enough for the district and global meshes to reach this node.
  remoteConnections: 4,
  // 30 s.
  connectRefreshMs: 30_000,
});

/** Data-center LAN, up to ~10k hosts: the defaults. */
const lan: Partial<GossipOptions> = {};

/** Hosts across regions: slower probes and longer suspicions (round trips of 100–300 ms, more loss). */
const wan: Partial<GossipOptions> = {
  probeIntervalMs: 2000,
  ackTimeoutMs: 1500,
  indirectTimeoutMs: 1500,
  suspicionMinMs: 4000,
  suspicionMaxMs: 12_000,
  accuseFallbackMs: 3000,
  recordMinIntervalMs: 1000,
  maxClockSkewMs: 30_000,
  syncTimeoutMs: 5000,
};

/** 10k–100k+ hosts: fewer refreshes, longer TTLs, so idle traffic stays far under the budget. */
const large: Partial<GossipOptions> = {
  recordHeartbeatMs: 120_000,
  summaryHeartbeatMs: 300_000,
  summaryTtlMs: 1_800_000,
  digestFullIntervalMs: 600_000,
  cellBitsDwellMs: 120_000,
};

export type GossipProfile = 'lan' | 'wan' | 'large';
export const GOSSIP_PROFILES: Readonly<Record<GossipProfile, Partial<GossipOptions>>> = Object.freeze({ lan, wan, large });

/** Defaults, then the profile, then explicit overrides; validated. */
export function resolveGossipOptions(overrides: Partial<GossipOptions> = {}, profile: GossipProfile = 'lan'): GossipOptions {
  const opts: GossipOptions = { ...defaultGossipOptions, ...GOSSIP_PROFILES[profile], ...overrides };
  validateGossipOptions(opts);
  return opts;
}

export function validateGossipOptions(o: GossipOptions): void {
  const bad = (field: string, why: string): never => {
    throw new ShoalError('GOSSIP_BAD_OPTIONS', `gossip option ${field}: ${why}`, { field });
  };
  if (!CLUSTER_RE.test(o.cluster)) bad('cluster', 'must be 1–63 lowercase letters, digits, ".", "_" or "-"');
  if (!Number.isSafeInteger(o.incarnation) || o.incarnation < 0 || o.incarnation >= 2 ** 48) bad('incarnation', 'must be an integer in [0, 2^48)');
  if (o.cellBits !== null && (!Number.isInteger(o.cellBits) || o.cellBits < 0 || o.cellBits > MAX_CELL_BITS)) bad('cellBits', `must be null or an integer in [0, ${MAX_CELL_BITS}]`);
  if (!(o.expectedClusterSize >= 1)) bad('expectedClusterSize', 'must be ≥ 1');
  if (!(o.targetCellSize >= 2)) bad('targetCellSize', 'must be ≥ 2');
  if (!(o.cellSizeHysteresis > 1 / 3 && o.cellSizeHysteresis < 1)) bad('cellSizeHysteresis', 'must be in (1/3, 1) or cells would split and merge back');
  if (!(o.minEstimateCoverage > 0 && o.minEstimateCoverage <= 1)) bad('minEstimateCoverage', 'must be in (0, 1]');
  if (!(o.monitors >= 1 && o.monitors <= 8)) bad('monitors', 'must be in [1, 8]');
  if (!(o.suspicionMinMs > 0 && o.suspicionMaxMs >= o.suspicionMinMs)) bad('suspicionMaxMs', 'must be ≥ suspicionMinMs > 0');
  if (!(o.maxQueuedEvents >= 1 && o.maxQueuedEvents <= 64)) bad('maxQueuedEvents', 'must be in [1, 64] (one events message)');
  if (!(o.summaryContacts >= 1 && o.summaryContacts <= 4)) bad('summaryContacts', 'must be in [1, 4]');
  if (!(o.significantFreeFraction >= 0 && o.significantFreeFraction < 1)) bad('significantFreeFraction', 'must be in [0, 1)');
  if (!(o.heartbeatJitter >= 0 && o.heartbeatJitter < 1)) bad('heartbeatJitter', 'must be in [0, 1)');
  if (!(o.summaryTtlMs >= 2 * Math.max(o.summaryHeartbeatMs, o.digestFullIntervalMs))) {
    bad('summaryTtlMs', 'must be at least twice summaryHeartbeatMs and digestFullIntervalMs, or quiet cells would expire between refreshes');
  }
  for (const [k, v] of Object.entries(o)) {
    if (k.endsWith('Ms') && !(typeof v === 'number' && v > 0 && Number.isFinite(v))) bad(k, 'must be a positive number of milliseconds');
  }
  for (const k of ['cellTopic', 'districtTopic', 'globalTopic'] as const) {
    const b = o[k];
    if (!(b.msgsPerSec > 0 && b.bytesPerSec > 0 && b.burstMessages >= 1)) bad(k, 'msgsPerSec and bytesPerSec must be > 0, burstMessages ≥ 1');
  }
}
