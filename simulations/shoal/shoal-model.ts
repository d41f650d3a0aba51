import { SeededRng, type Encoded, type Millis, type PeerIdStr, type Resources, type Rng } from '../../src/core/index.ts';
import {
  GossipNode,
  GOSSIP_REASONS,
  decodeDirect,
  decodeTopicMessage,
  defaultGossipOptions,
  resolveGossipOptions,
  topicKind,
  type GossipOptions,
  type HostRecord,
  type TopicMsg,
} from '../../src/gossip/index.ts';
import {
  HostLedger,
  PlacementNode,
  TenantKeyMap,
  defaultPlacementOptions,
  encodePlacementMessage,
  placementOptions,
  type AdmitRequest,
  type AdmitResult,
  type HostAdmission,
  type LedgerSnapshot,
  type PlacementOptions,
  type Reservation,
  type SubmitOutcome,
} from '../../src/placement/index.ts';
import type { Histogram } from '../metrics/histogram.ts';
import type { CorruptInjection, HostModel, PlacementAudit, PlacementDriver, PlacementResult, RunHooks } from '../run/host-model.ts';
import type { Truth } from '../run/truth.ts';
import { overrideOptions, partialOverrides } from '../scenario/options-override.ts';
import type { Scenario } from '../scenario/schema.ts';
import { SIM_CLUSTER, SIM_DRIVERS } from '../workload/host-records.ts';
import { HOST_SHAPE_MIXES, hostCapacity, pickWeighted } from '../workload/shapes.ts';
import { HostOutbox, type HostContext, type World } from '../world/world.ts';
import { recoveryOptions, defaultRecoveryOptions } from '../../src/placement/recovery/index.ts';
import { AdmissionLog } from './admission-log.ts';
import { PlacementPayload, UndecodablePayload } from './payloads.ts';
import { ShoalSimNode } from './shoal-sim-node.ts';
import { SimRecovery } from './sim-recovery.ts';

/** Own-record versions remembered per host, to tell how stale a peer's copy is. */
const VERSION_RING = 8;
/** Changes of free capacity remembered per host (admissions, releases, drift). */
const CHANGE_RING = 16;
/** One in this many direct messages is decoded from its bytes and compared with the shared object. */
const DIRECT_CHECK_EVERY = 1024;

/** The host role: the ledger admits atomically; the gossip node hears the new free capacity (what the agent does after its store write). */
class SimAdmission implements HostAdmission {
  private readonly model: ShoalHostModel;
  private readonly host: number;
  private readonly ledger: HostLedger;
  private readonly gossip: GossipNode;
  constructor(model: ShoalHostModel, host: number, ledger: HostLedger, gossip: GossipNode) {
    this.model = model;
    this.host = host;
    this.ledger = ledger;
    this.gossip = gossip;
  }
  admit(req: AdmitRequest, now: Millis, done: (result: AdmitResult, now: Millis) => void): void {
    const r = this.ledger.admit(req);
    if (r.type === 'rejected') this.model.admitRejections.set(r.reason ?? r.code, (this.model.admitRejections.get(r.reason ?? r.code) ?? 0) + 1);
    if (r.type === 'accepted' && !r.duplicate) {
      this.model.admissions.add(this.host, r.jobId, req.spec.tenant, req.spec.idempotencyKey!, req.epoch, now);
      this.model.recovery?.admitted(this.host, r.jobId, req.spec);
      this.publishLoad(now);
    }
    done(r, now);
  }
  release(jobId: string, epoch: number, now: Millis): void {
    if (this.ledger.release(jobId, epoch)) {
      this.model.recovery?.changed(this.host);
      this.publishLoad(now);
    }
  }
  private publishLoad(now: Millis): void {
    this.model.noteFreeChange(this.host, now);
    this.gossip.updateSelf({ free: this.ledger.free(), jobs: this.ledger.size, antiAffinityGroups: this.ledger.antiAffinityGroups() }, now);
  }
}

/**
 * The host's outbox as the agent's runner would drive it: a topic message is decoded from
 * its bytes once, at publish (every receiver would decode the same bytes the same way), and
 * receivers share the decoded object. Undecodable bytes travel as an UndecodablePayload that
 * every receiver rejects. It also notes record versions (for freshness) and recent messages
 * (for corruption injection). It extends the world's outbox rather than wrapping one: one
 * object read per send, not two.
 */
class ObservingOutbox extends HostOutbox {
  private readonly model: ShoalHostModel;
  constructor(model: ShoalHostModel, world: World, host: number) {
    super(world, host);
    this.model = model;
  }
  override publish(topic: string, payload: Encoded): void {
    let out: Encoded;
    try {
      out = decodeTopicMessage(topic, payload.bytes);
    } catch (err) {
      this.model.selfRejectedPublishes++;
      out = new UndecodablePayload(payload.bytes, err);
    }
    this.model.notePublish(this.host, topic, out);
    super.publish(topic, out);
  }
  override send(to: PeerIdStr, payload: Encoded): void {
    if (++this.model.directSends % DIRECT_CHECK_EVERY === 0) this.model.checkDirect(payload);
    super.send(to, payload);
  }
}

/** How a federated world (simulations/federation) splits the hosts into clusters; a plain run uses none of it. */
export interface ShoalModelHooks {
  /** Host `i`'s cluster name (default SIM_CLUSTER): its gossip mesh, topics and ledger. */
  readonly clusterOf?: (host: number) => string;
  /** Reservations host `i`'s ledger starts with (a pre-filled cluster). */
  readonly prefill?: (host: number, capacity: Resources) => LedgerSnapshot | undefined;
  /** Hosts per cluster, for the gossip size hint (default: every host of the run). */
  readonly clusterSize?: number;
}

/**
 * Shoal as the simulator runs it: for every host, the unchanged GossipNode (src/gossip) and
 * PlacementNode (src/placement), wired as the agent wires them. This file only adapts and
 * observes; if it ever needed protocol logic of its own, the design would be wrong.
 */
export class ShoalHostModel implements HostModel<ShoalSimNode> {
  readonly protocol = 'shoal';
  readonly gossipOpts: GossipOptions;
  readonly placementOpts: PlacementOptions;
  readonly placement: PlacementDriver;
  /** Replicas and evacuation (issue 7), when the scenario has a `[recovery]` table. */
  readonly recovery: SimRecovery | null;
  /** Non-duplicate admissions in order (for best-fit and the audit). */
  readonly admissions = new AdmissionLog();
  /** Admissions hosts refused, by reason (stale views show up here). */
  readonly admitRejections = new Map<string, number>();
  selfRejectedPublishes = 0;
  directSends = 0;
  directChecks = 0;
  directMismatches = 0;
  private world: World<ShoalSimNode> | null = null;
  private truth: Truth | null = null;
  private hooks: RunHooks | null = null;
  private readonly scenario: Scenario;
  private readonly ledgers: (HostLedger | undefined)[] = [];
  private versionInc = new Float64Array(0);
  private versionSeq = new Float64Array(0);
  private versionAt = new Float64Array(0);
  private versionHead = new Uint8Array(0);
  private freeChangeAt = new Float64Array(0);
  private freeChangeHead = new Uint8Array(0);
  /** Recent publishes per topic kind, for corruption injection. */
  private readonly recent = new Map<string, { host: number; topic: string; bytes: Uint8Array }[]>();
  private corruptSeq = 0;
  private readonly clusterHooks: ShoalModelHooks;

  constructor(scenario: Scenario, hooks: ShoalModelHooks = {}) {
    this.scenario = scenario;
    this.clusterHooks = hooks;
    const overrides = partialOverrides(defaultGossipOptions, scenario.gossip, 'gossip');
    this.gossipOpts = resolveGossipOptions({ cluster: SIM_CLUSTER, expectedClusterSize: hooks.clusterSize ?? scenario.nodes, ...overrides }, scenario.gossip_profile);
    this.placementOpts = placementOptions(partialOverrides(defaultPlacementOptions, scenario.placement, 'placement'));
    this.recovery = scenario.recovery === undefined ? null : new SimRecovery(recoveryOptions(overrideOptions(defaultRecoveryOptions, scenario.recovery, 'recovery')));
    this.placement = {
      submit: (entry, spec, now, done) => this.submit(entry, spec, now, done),
      release: (host, jobId, now) => this.release(host, jobId, now),
      audit: () => this.audit(),
    };
  }

  topicKindOf(topic: string): string {
    return topicKind(topic);
  }

  bind(world: World<ShoalSimNode>, truth: Truth, hooks: RunHooks): void {
    this.world = world;
    this.truth = truth;
    this.hooks = hooks;
    const cap = world.opts.hostCapacity;
    this.versionInc = new Float64Array(cap * VERSION_RING).fill(-1);
    this.versionSeq = new Float64Array(cap * VERSION_RING);
    this.versionAt = new Float64Array(cap * VERSION_RING);
    this.versionHead = new Uint8Array(cap);
    this.freeChangeAt = new Float64Array(cap * CHANGE_RING).fill(NaN);
    this.freeChangeHead = new Uint8Array(cap);
    this.recovery?.bind(world, truth, this.ledgers);
  }

  /** A host's free capacity changed at `nowMs` (the truth routers' views are compared with). */
  noteFreeChange(host: number, nowMs: Millis): void {
    const k = this.freeChangeHead[host]!;
    this.freeChangeAt[host * CHANGE_RING + k] = nowMs;
    this.freeChangeHead[host] = (k + 1) % CHANGE_RING;
  }

  cellBitsOf(node: ShoalSimNode): number {
    return node.gossip.cellBits;
  }

  /** Host shapes are drawn per host from the seed, so a restart brings back the same machine. */
  capacityOf(host: number): Resources {
    const rng = new SeededRng(this.scenario.seed).fork(`host-shape:${host}`);
    return hostCapacity(pickWeighted(HOST_SHAPE_MIXES[this.scenario.hosts.shapes], rng), this.scenario.hosts.cpu_overcommit);
  }

  build(ctx: HostContext): ShoalSimNode {
    const w = this.world!;
    const i = ctx.index;
    const rack = `rk${w.topology.rackOf[i]}`;
    const labels = { rack };
    const cluster = this.clusterOf(i);
    // The ledger is durable in the agent: a restarted host keeps its reservations.
    let ledger = this.ledgers[i];
    if (ledger === undefined) {
      const capacity = this.capacityOf(i);
      ledger = new HostLedger({ cluster, zone: ctx.zone, labels, drivers: SIM_DRIVERS, capacity, health: 'ok', draining: false }, this.clusterHooks.prefill?.(i, capacity));
      this.ledgers[i] = ledger;
    }
    const gossip = new GossipNode({ ...this.gossipOpts, cluster, incarnation: ctx.incarnation }, { self: ctx.self, rng: ctx.rng.fork('gossip'), outbox: new ObservingOutbox(this, w, i), metrics: null });
    gossip.updateSelf(
      {
        zone: ctx.zone,
        labels,
        drivers: SIM_DRIVERS,
        capacity: ledger.profile.capacity,
        free: ledger.free(),
        jobs: ledger.size,
        antiAffinityGroups: ledger.antiAffinityGroups(),
        addrs: [`/ip4/10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}/tcp/4001`],
      },
      ctx.nowMs,
    );
    if (ctx.seeds.length > 0) gossip.join(ctx.seeds.map((peer) => ({ peer, addrs: [] })), ctx.nowMs);
    const hooks = this.hooks!;
    const self = ctx.self;
    let node: ShoalSimNode | null = null;
    gossip.onMemberEvent((ev) => {
      if (ev.peer === self) return;
      hooks.memberEvent(i, ev.peer, ev.status, ev.previous, ev.atMs);
      if (node?.evacuator) {
        node.evacuator.onMemberEvent(ev.peer, ev.status, ev.atMs);
        node.kickEvacuator();
      }
    });
    const max = this.placementOpts.maxMessageBytes;
    const outbox = ctx.outbox;
    const placement = new PlacementNode(this.placementOpts, {
      // GossipNode's ClusterView is a structural superset of PlacementView: no adapter.
      view: gossip,
      rng: ctx.rng.fork('placement'),
      outbox: { send: (to, msg) => outbox.send(to, new PlacementPayload(msg, encodePlacementMessage(msg, max))) },
      admission: new SimAdmission(this, i, ledger, gossip),
      bindings: null,
      metrics: null,
    });
    node = new ShoalSimNode(gossip, placement);
    if (this.recovery !== null) node.evacuator = this.recovery.attach(i, gossip, placement, ctx.nowMs);
    return node;
  }

  clusterOf(host: number): string {
    return this.clusterHooks.clusterOf?.(host) ?? SIM_CLUSTER;
  }

  // ---- observation ----

  notePublish(host: number, topic: string, payload: Encoded): void {
    const kind = topicKind(topic);
    let list = this.recent.get(kind);
    if (list === undefined) this.recent.set(kind, (list = []));
    list.push({ host, topic, bytes: payload.bytes });
    if (list.length > 16) list.shift();
    const msg = payload.msg as TopicMsg | null;
    if (msg !== null && msg.type === 'record' && msg.record.origin === this.world!.ids[host]) this.noteVersion(host, msg.record);
    // A newcomer's first record goes out in its aggregator's events batch.
    if (msg !== null && msg.type === 'events') {
      for (const ev of msg.events) {
        const origin = ev.kind === 'alive' ? this.world!.indexOf.get(ev.peer) : undefined;
        if (origin !== undefined) this.noteVersion(origin, ev.record!);
      }
    }
  }

  private noteVersion(host: number, record: HostRecord): void {
    const k = this.versionHead[host]!;
    const slot = host * VERSION_RING + k;
    this.versionInc[slot] = record.incarnation;
    this.versionSeq[slot] = record.seq;
    this.versionAt[slot] = this.world!.nowMs;
    this.versionHead[host] = (k + 1) % VERSION_RING;
  }

  checkDirect(payload: Encoded): void {
    if (payload instanceof PlacementPayload) return;
    this.directChecks++;
    try {
      const d = decodeDirect(payload.bytes);
      if ((d.msg as { type: string }).type !== (payload.msg as { type: string }).type) this.directMismatches++;
    } catch {
      this.directMismatches++;
    }
  }

  viewCorrect(host: number, node: ShoalSimNode, _nowMs: Millis, rng: Rng): boolean {
    const w = this.world!;
    const truth = this.truth!;
    const g = node.gossip;
    const bits = g.cellBits;
    // Every live host of my cell is known alive…
    let missing = false;
    const own = this.clusterHooks.clusterOf === undefined ? null : this.clusterOf(host);
    truth.forLiveInCell(bits, g.ownCell, (h) => {
      if (missing || h === host || (own !== null && this.clusterOf(h) !== own)) return;
      const m = g.cellMember(w.ids[h]!);
      if (m === undefined || m.status !== 'alive') missing = true;
    });
    if (missing) return false;
    // …and nobody I think alive is down.
    for (const m of g.cellMembers()) {
      if (m.status !== 'alive') continue;
      const idx = w.indexOf.get(m.record.origin);
      if (idx === undefined || !w.alive[idx]) return false;
    }
    // Other cells: a few random live hosts elsewhere must have their cell's summary here.
    for (let k = 0; k < 4; k++) {
      const other = rng.int(w.hostCount);
      if (!w.alive[other] || (own !== null && this.clusterOf(other) !== own)) continue;
      const cell = truth.cellOf(other, bits);
      if (cell !== g.ownCell && g.cellSummary(cell) === undefined) return false;
    }
    return true;
  }

  sampleFreshness(host: number, node: ShoalSimNode, nowMs: Millis, recordStalenessMs: Histogram, summaryAgeMs: Histogram, capacityStalenessMs: Histogram): void {
    const w = this.world!;
    const g = node.gossip;
    const frac = this.gossipOpts.significantFreeFraction;
    for (const m of g.cellMembers()) {
      const peer = m.record.origin;
      if (peer === g.self) continue;
      const idx = w.indexOf.get(peer);
      if (idx === undefined || !w.alive[idx]) continue;
      recordStalenessMs.add(this.staleness(idx, m.record.incarnation, m.record.seq, nowMs));
      const ledger = this.ledgers[idx];
      if (ledger !== undefined) capacityStalenessMs.add(this.capacityStaleness(idx, ledger, m.record, frac, nowMs));
    }
    const n = g.knownSummaries();
    const stride = Math.max(1, Math.floor(n / 16));
    let k = 0;
    for (const s of g.cellSummaries()) {
      if (k++ % stride === 0) summaryAgeMs.add(Math.max(0, nowMs - s.issuedAtMs));
    }
    void host;
  }

  /**
   * How long a router's copy of a host's free capacity has been significantly wrong (off by
   * more than the protocol's significance threshold on some axis): from the first change of
   * the host's free capacity after that copy was published (an upper bound), 0 when right.
   */
  private capacityStaleness(idx: number, ledger: HostLedger, rec: { incarnation: number; seq: number; free: Resources }, frac: number, nowMs: Millis): number {
    const truth = ledger.free();
    const cap = ledger.profile.capacity;
    const off =
      Math.abs(truth.vcpus - rec.free.vcpus) > frac * cap.vcpus ||
      Math.abs(truth.memoryMiB - rec.free.memoryMiB) > frac * cap.memoryMiB ||
      Math.abs(truth.diskGiB - rec.free.diskGiB) > frac * cap.diskGiB;
    if (!off) return 0;
    let publishedAt = -Infinity;
    for (let k = 0; k < VERSION_RING; k++) {
      const slot = idx * VERSION_RING + k;
      if (this.versionInc[slot] === rec.incarnation && this.versionSeq[slot] === rec.seq) publishedAt = this.versionAt[slot]!;
    }
    let firstChange = Infinity;
    let oldest = Infinity;
    for (let k = 0; k < CHANGE_RING; k++) {
      const at = this.freeChangeAt[idx * CHANGE_RING + k]!;
      if (Number.isNaN(at)) continue;
      if (at < oldest) oldest = at;
      if (at > publishedAt && at < firstChange) firstChange = at;
    }
    const since = firstChange !== Infinity ? firstChange : oldest;
    return since === Infinity ? 0 : Math.max(0, nowMs - since);
  }

  /** How long the copy (inc, seq) has been outdated: since the first newer version was published; 0 when current. */
  private staleness(idx: number, inc: number, seq: number, nowMs: Millis): number {
    let firstNewerAt = Infinity;
    let oldestAt = Infinity;
    for (let k = 0; k < VERSION_RING; k++) {
      const slot = idx * VERSION_RING + k;
      const vi = this.versionInc[slot]!;
      if (vi < 0) continue;
      const at = this.versionAt[slot]!;
      if (at < oldestAt) oldestAt = at;
      if ((vi > inc || (vi === inc && this.versionSeq[slot]! > seq)) && at < firstNewerAt) firstNewerAt = at;
    }
    if (firstNewerAt === Infinity) return 0;
    // Older than the ring remembers: at least this old.
    return nowMs - firstNewerAt;
  }

  queueDepth(_host: number, node: ShoalSimNode): number {
    const q = node.gossip.queueDepths();
    return q.events[0] + q.relays[0];
  }

  injectCorrupt(nowMs: Millis, rng: Rng, kind: string): CorruptInjection | null {
    const w = this.world!;
    const list = this.recent.get(kind) ?? [];
    for (let i = list.length - 1; i >= 0; i--) {
      const src = list[i]!;
      if (!w.alive[src.host]) continue;
      const bytes = Uint8Array.from(src.bytes);
      const bit = rng.int(bytes.length * 8);
      bytes[bit >> 3]! ^= 1 << (bit & 7);
      let payload: Encoded;
      let decodeRejected = false;
      try {
        payload = decodeTopicMessage(src.topic, bytes);
      } catch (err) {
        payload = new UndecodablePayload(bytes, err);
        decodeRejected = true;
      }
      w.overlay.publish(src.host, src.topic, payload, nowMs, ++this.corruptSeq);
      return { host: src.host, topic: src.topic, decodeRejected, bit };
    }
    return null;
  }

  driftCapacity(host: number, node: ShoalSimNode, nowMs: Millis, rng: Rng): void {
    const ledger = this.ledgers[host];
    if (ledger === undefined) return;
    const base = this.capacityOf(host);
    // Allocatable vCPUs move within ±20% of the base, as host-reserved CPU or overcommit policy changes.
    const vcpus = Math.max(1, Math.round(base.vcpus * (0.8 + 0.4 * rng.next())));
    ledger.updateProfile({ capacity: { ...base, vcpus } });
    this.noteFreeChange(host, nowMs);
    node.gossip.updateSelf({ capacity: ledger.profile.capacity, free: ledger.free() }, this.world!.hostTime(nowMs));
  }

  // ---- placement ----

  private submit(entry: number, spec: Parameters<PlacementDriver['submit']>[1], nowMs: Millis, done: (r: PlacementResult, atMs: Millis) => void): void {
    const w = this.world!;
    const node = w.hosts[entry];
    if (node === null || node === undefined) return;
    w.guard(entry, 'placement.submit', () =>
      node.placement.submit(spec, w.hostTime(nowMs), (o: SubmitOutcome) => {
        const at = w.nowMs;
        if (o.type === 'placed') done({ type: 'placed', jobId: o.jobId, host: o.host, duplicate: o.duplicate, asks: o.asks }, at);
        else done({ type: o.type, asks: o.asks, code: o.code }, at);
      }),
    );
  }

  private release(host: PeerIdStr, jobId: string, nowMs: Millis): boolean {
    const w = this.world!;
    const i = w.indexOf.get(host);
    if (i === undefined) return false;
    const ledger = this.ledgers[i];
    if (ledger === undefined || !ledger.release(jobId)) return false;
    this.recovery?.changed(i);
    this.noteFreeChange(i, nowMs);
    const node = w.hosts[i];
    if (node !== null && node !== undefined && w.alive[i]) {
      w.guard(i, 'release', () => node.gossip.updateSelf({ free: ledger.free(), jobs: ledger.size, antiAffinityGroups: ledger.antiAffinityGroups() }, w.hostTime(nowMs)));
    }
    return true;
  }

  private audit(): PlacementAudit {
    const capacity: (Resources | null)[] = [];
    let overcommitted = 0;
    let used = 0;
    let reserved = 0;
    let capV = 0;
    const keys = new TenantKeyMap<number>();
    const twice: Reservation[] = [];
    const w = this.world!;
    for (let i = 0; i < w.hostCount; i++) {
      const l = this.ledgers[i];
      if (l === undefined) {
        capacity.push(null);
        continue;
      }
      const cap = l.profile.capacity;
      capacity.push(cap);
      capV += cap.vcpus;
      const r = l.reserved();
      reserved += r.vcpus;
      if (r.vcpus > cap.vcpus || r.memoryMiB > cap.memoryMiB || r.diskGiB > cap.diskGiB) overcommitted++;
      if (l.size > 0) used++;
      // A down host's copies do not run; if it comes back with them, they count again.
      if (!w.alive[i]) continue;
      for (const res of l.reservations()) {
        const n = (keys.get(res.tenant, res.key) ?? 0) + 1;
        keys.set(res.tenant, res.key, n);
        if (n === 2) twice.push(res);
      }
    }
    let duplicates = 0;
    for (const res of twice) duplicates += keys.get(res.tenant, res.key)! - 1;
    // Keys running twice where a live copy was placed by a move (epoch > 1): evacuation's, not the first placement's.
    const moved = new TenantKeyMap<true>();
    const log = this.admissions;
    if (duplicates > 0) {
      this.traceDuplicates(twice.slice(0, 5));
      for (let i = 0; i < log.length; i++) {
        const host = log.hosts[i]!;
        if (log.epochs[i]! > 1 && (keys.get(log.tenants[i]!, log.keys[i]!) ?? 0) > 1 && w.alive[host] && this.ledgers[host]?.get(log.jobIds[i]!) !== undefined) moved.set(log.tenants[i]!, log.keys[i]!, true);
      }
    }
    const jobs: Resources[] = [];
    for (let i = 0; i < log.length; i++) {
      const res = this.ledgers[log.hosts[i]!]?.get(log.jobIds[i]!);
      if (res !== undefined) jobs.push(res.resources);
    }
    return { capacity, overcommittedHosts: overcommitted, duplicateJobs: duplicates, duplicateKeysFromMoves: moved.size, hostsUsed: used, jobs, reservedVcpus: reserved, capacityVcpus: capV };
  }

  /** Prints the admissions of a few keys running twice (stderr), so a duplicate can be traced from its seed. */
  private traceDuplicates(keys: readonly { tenant: string; key: string }[]): void {
    const w = this.world!;
    const log = this.admissions;
    for (const { tenant, key } of keys) {
      const copies: string[] = [];
      for (let i = 0; i < log.length; i++) {
        if (log.tenants[i] !== tenant || log.keys[i] !== key) continue;
        const host = log.hosts[i]!;
        copies.push(`t=${(log.atMs[i]! / 1000).toFixed(3)}s host ${host}${w.alive[host] ? '' : ' (down)'} job ${log.jobIds[i]} epoch ${log.epochs[i]}`);
      }
      process.stderr.write(`duplicate ${tenant}/${key}: ${copies.join('; ')}\n`);
    }
  }

  finalMetrics(): Record<string, number | null> {
    const w = this.world!;
    let live = 0;
    let bitsMin = Infinity;
    let bitsMax = -Infinity;
    let estSum = 0;
    let summaries = 0;
    let eventsDropped = 0;
    let syncDropped = 0;
    let summaryRepairs = 0;
    let suspicions = 0;
    let rejected = 0;
    let ignored = 0;
    const p = { asks: 0, retries: 0, admitted: 0, rejected: 0, timeouts: 0, forwards: 0, releases: 0 };
    for (let i = 0; i < w.hostCount; i++) {
      const n = w.hosts[i];
      if (!w.alive[i] || n === null || n === undefined) continue;
      live++;
      const g = n.gossip;
      bitsMin = Math.min(bitsMin, g.cellBits);
      bitsMax = Math.max(bitsMax, g.cellBits);
      estSum += g.estimatedClusterSize();
      summaries += g.knownSummaries();
      const c = g.counters();
      eventsDropped += c.eventsDropped;
      syncDropped += c.syncRequestsDropped;
      summaryRepairs += c.summaryRepairs;
      suspicions += c.suspicions;
      for (const r of GOSSIP_REASONS) {
        rejected += c.rejected[r];
        ignored += c.ignored[r];
      }
      const ps = n.placement.stats;
      p.asks += ps.asks;
      p.retries += ps.retries;
      p.admitted += ps.admitted;
      p.rejected += ps.rejected;
      p.timeouts += ps.timeouts;
      p.forwards += ps.forwards;
      p.releases += ps.releases;
    }
    const reasons: Record<string, number> = {};
    for (const [k, v] of this.admitRejections) reasons[`admit_rejected_${k.replace(/[^a-z0-9]+/gi, '_').toLowerCase()}`] = v;
    return {
      cell_bits_min: live > 0 ? bitsMin : null,
      cell_bits_max: live > 0 ? bitsMax : null,
      estimated_size_mean: live > 0 ? estSum / live : null,
      known_summaries_mean: live > 0 ? summaries / live : null,
      gossip_events_dropped: eventsDropped,
      gossip_sync_dropped: syncDropped,
      gossip_summary_repairs: summaryRepairs,
      gossip_suspicions: suspicions,
      gossip_rejected: rejected,
      gossip_ignored: ignored,
      self_rejected_publishes: this.selfRejectedPublishes,
      direct_decode_checks: this.directChecks,
      direct_decode_mismatches: this.directMismatches,
      placement_asks_total: p.asks,
      placement_retries_total: p.retries,
      placement_admitted_total: p.admitted,
      placement_rejected_total: p.rejected,
      placement_timeouts_total: p.timeouts,
      placement_forwards_total: p.forwards,
      placement_releases_total: p.releases,
      ...reasons,
      ...this.recovery?.finalMetrics(),
    };
  }
}
