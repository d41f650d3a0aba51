import type { Encoded, Rng, Verdict } from '../../src/core/index.ts';
import type { EventQueue } from '../engine/event-queue.ts';
import { CTRL_IN, BYTES_IN, BYTES_OUT, DUPS_IN, SAVED_IN, type TrafficMeter } from '../metrics/traffic-meter.ts';
import { LOST, type NetworkModel } from '../network/network-model.ts';
import type { GossipsubModelOptions } from './gossipsub-options.ts';
import { MessagePool, MessageState, ST_ACCEPT, ST_IGNORE, ST_NONE, ST_ORIGIN, ST_PENDING, ST_REJECT } from './message-state.ts';
import { Topic } from './topic.ts';

/** Event kind the model schedules: a message copy reaching a topic position (node field = position, payload = message slot). */
export const EV_TOPIC = 3;

/** Where the model hands a first copy for validation: the world runs the host's protocol code. */
export interface TopicSink {
  /** Runs `onTopicMessage` on `node`; the verdict decides whether the copy travels on. */
  deliverTopic(node: number, topic: Topic, fromNode: number, message: MessageState, nowMs: number): Verdict;
}

/** Totals per topic kind (bounded label set), for the report. */
export interface TopicKindCounters {
  published: number;
  /** Copies sent (first copies and duplicates). */
  copies: number;
  firstCopies: number;
  duplicates: number;
  /** IDONTWANT-suppressed copies. */
  suppressed: number;
  iwantRecoveries: number;
  controlRpcs: number;
  dataBytes: number;
  controlBytes: number;
  rejected: number;
  publishNoPeers: number;
}

function zeroCounters(): TopicKindCounters {
  return { published: 0, copies: 0, firstCopies: 0, duplicates: 0, suppressed: 0, iwantRecoveries: 0, controlRpcs: 0, dataBytes: 0, controlBytes: 0, rejected: 0, publishNoPeers: 0 };
}

/** Hop latency samples of first copies (ms), kept bounded for calibration against real gossipsub. */
const HOP_SAMPLE_CAP = 100_000;

/**
 * A model of gossipsub v1.2 as @libp2p/gossipsub 17 runs it for Shoal: a mesh of degree D per
 * topic kept within [Dlo, Dhi] at heartbeats, eager push along the mesh (no flood publish),
 * validation at every hop before forwarding (a reject stops the message there), duplicates
 * dropped by the seen-cache but still paid for in messages and bytes, IDONTWANT for large
 * messages, and lazy IHAVE/IWANT gossip at heartbeats that repairs what the mesh missed.
 *
 * Cost is what makes 100k hosts possible: an event is scheduled only for a copy that may be
 * the first to reach its receiver; every other copy is a counter increment. Lazy gossip is
 * counted in aggregate (each live member receives the topic's mean number of IHAVE RPCs per
 * heartbeat), and IWANT repair runs only for messages some live member still lacks.
 */
export class GossipsubModel {
  readonly opts: GossipsubModelOptions;
  private readonly queue: EventQueue;
  private readonly network: NetworkModel;
  private readonly meter: TrafficMeter;
  private readonly alive: Uint8Array;
  private readonly rng: Rng;
  private readonly sink: TopicSink;
  private readonly topicKindOf: (name: string) => string;
  private readonly pool = new MessagePool();

  readonly topics = new Map<string, Topic>();
  /** Topics each host subscribes to, for crash cleanup. */
  private readonly subsOf: (Topic[] | undefined)[] = [];
  /** Message states by slot (the queue's payload field). */
  private readonly messages: (MessageState | undefined)[] = [];
  private readonly freeSlots: number[] = [];
  readonly kindNames: string[] = [];
  readonly byKind: TopicKindCounters[] = [];
  /** One-way latency of first copies per hop (ms), for calibration. */
  readonly hopLatencySamples: number[] = [];
  /** Corrupted messages injected so far, by tracking id. */
  readonly corrupt: { id: number; receivers: number; accepted: number; forwarders: number; maxHop: number; publishedAtMs: number }[] = [];
  private readonly meshWidth: number;

  constructor(
    opts: GossipsubModelOptions,
    modules: {
      queue: EventQueue;
      network: NetworkModel;
      meter: TrafficMeter;
      alive: Uint8Array;
      rng: Rng;
      sink: TopicSink;
      topicKindOf: (name: string) => string;
    },
  ) {
    this.opts = opts;
    this.queue = modules.queue;
    this.network = modules.network;
    this.meter = modules.meter;
    this.alive = modules.alive;
    this.rng = modules.rng;
    this.sink = modules.sink;
    this.topicKindOf = modules.topicKindOf;
    this.meshWidth = opts.Dhi + 4;
  }

  private kindIndex(name: string): number {
    const kind = this.topicKindOf(name);
    let i = this.kindNames.indexOf(kind);
    if (i < 0) {
      i = this.kindNames.length;
      this.kindNames.push(kind);
      this.byKind.push(zeroCounters());
    }
    return i;
  }

  private topic(name: string): Topic {
    let t = this.topics.get(name);
    if (t === undefined) {
      t = new Topic(name, this.kindIndex(name), this.meshWidth);
      this.topics.set(name, t);
    }
    return t;
  }

  /** Subscribers of `name` (live or not yet noticed dead). */
  topicPeers(name: string): number {
    return this.topics.get(name)?.count ?? 0;
  }

  isSubscribed(node: number, name: string): boolean {
    return this.topics.get(name)?.nodePos.has(node) ?? false;
  }

  subscribe(node: number, name: string, nowMs: number): void {
    const t = this.topic(name);
    if (t.nodePos.has(node)) return;
    const pos = t.add(node, nowMs);
    let subs = this.subsOf[node];
    if (subs === undefined) {
      subs = [];
      this.subsOf[node] = subs;
    }
    subs.push(t);
    // gossipsub's join(): GRAFT up to D known subscribers at once, or (no peers known yet) at the next heartbeat.
    if (this.opts.graftOnJoin) this.graft(t, pos, this.opts.D, nowMs);
    if (t.meshDeg[pos]! < this.opts.Dlo) t.markDirty(pos);
  }

  unsubscribe(node: number, name: string, nowMs: number): void {
    const t = this.topics.get(name);
    if (t === undefined) return;
    const pos = t.nodePos.get(node);
    if (pos === undefined) return;
    this.leaveTopic(t, pos, nowMs, true);
    const subs = this.subsOf[node]!;
    subs.splice(subs.indexOf(t), 1);
  }

  /** A host crashed: its peers keep it in their meshes until they notice (see `peerGone`). */
  nodeCrashed(node: number): void {
    const subs = this.subsOf[node];
    if (subs !== undefined) for (const t of subs) t.deadMembers++;
  }

  /** Peers noticed `node` is gone (crash detected, or a leave): drop it from every topic. */
  peerGone(node: number, nowMs: number, wasCrash: boolean): void {
    const subs = this.subsOf[node];
    if (subs === undefined) return;
    for (const t of subs) {
      const pos = t.nodePos.get(node);
      if (pos === undefined) continue;
      if (wasCrash) t.deadMembers--;
      this.leaveTopic(t, pos, nowMs, !wasCrash);
    }
    this.subsOf[node] = undefined;
  }

  private leaveTopic(t: Topic, pos: number, nowMs: number, sendPrune: boolean): void {
    const node = t.posNode[pos]!;
    const base = pos * this.meshWidth;
    while (t.meshDeg[pos]! > 0) {
      const q = t.mesh[base + t.meshDeg[pos]! - 1]!;
      t.unlink(pos, q);
      if (sendPrune) this.control(t, node, t.posNode[q]!, nowMs, 0);
      if (t.meshDeg[q]! < this.opts.Dlo) t.markDirty(q);
    }
    const window = (this.opts.historyLength + 2) * this.opts.heartbeatMs;
    t.remove(pos, nowMs + window);
  }

  /**
   * A partition has lasted long enough for connections across it to time out: mesh links
   * between hosts that cannot reach each other are dropped, and both sides graft anew.
   */
  partitionDetected(nowMs: number): void {
    for (const t of this.topics.values()) {
      for (let i = 0; i < t.count; i++) {
        const p = t.members[i]!;
        const a = t.posNode[p]!;
        const base = p * this.meshWidth;
        for (let k = t.meshDeg[p]! - 1; k >= 0; k--) {
          const q = t.mesh[base + k]!;
          if (!this.network.reachable(a, t.posNode[q]!)) {
            t.unlink(p, q);
            t.markDirty(p);
            t.markDirty(q);
          }
        }
      }
    }
    void nowMs;
  }

  /**
   * Publishes `payload` from `node`. Returns the message, or undefined when it went nowhere
   * (a duplicate of the node's own earlier publish, or no subscribed peer).
   */
  publish(node: number, name: string, payload: Encoded, nowMs: number, corruptId = 0): MessageState | undefined {
    const t = this.topic(name);
    const counters = this.byKind[t.kind]!;
    const contentHash = hashBytes(payload.bytes);
    const key = (contentHash ^ Math.imul(node + 1, 0x9e3779b1)) >>> 0;
    const pos = t.nodePos.get(node) ?? -1;
    const existing = t.byKey.get(key);
    if (existing !== undefined && existing.origin === node && existing.contentHash === contentHash && existing.payload.bytes.length === payload.bytes.length) {
      // Same signer, same bytes: the same message id, which gossipsub refuses as a duplicate.
      return undefined;
    }
    if (t.count - (pos >= 0 ? 1 : 0) === 0) {
      counters.publishNoPeers++;
      return undefined;
    }
    const m = this.pool.take(t.cap);
    const slot = this.freeSlots.pop() ?? this.messages.length;
    this.messages[slot] = m;
    m.slot = slot;
    m.topic = t;
    m.payload = payload;
    m.origin = node;
    m.originPos = pos;
    m.key = key;
    m.contentHash = contentHash;
    m.wireBytes = payload.bytes.length + this.opts.dataOverheadBytes;
    m.publishedAtMs = nowMs;
    m.corruptId = corruptId;
    if (!t.byKey.has(key)) t.byKey.set(key, m);
    t.active.push(m);
    t.lastPublishMs = nowMs;
    counters.published++;
    if (corruptId !== 0) this.corrupt.push({ id: corruptId, receivers: 0, accepted: 0, forwarders: 0, maxHop: 0, publishedAtMs: nowMs });
    if (pos >= 0) {
      m.status[pos] = ST_ORIGIN;
      m.arrivalMs[pos] = nowMs;
      m.hops[pos] = 0;
      this.forward(m, pos, nowMs, -1);
    } else {
      this.fanoutPublish(m, node, nowMs);
    }
    return m;
  }

  /** Publishing to a topic we are not subscribed to: D random subscribers (gossipsub fanout). */
  private fanoutPublish(m: MessageState, node: number, nowMs: number): void {
    const t = m.topic;
    const want = Math.min(this.opts.D, t.count);
    for (let tries = 0, sent = 0; sent < want && tries < want * 4; tries++) {
      const q = t.members[this.rng.int(t.count)]!;
      if (q >= m.cap || m.status[q] !== ST_NONE) continue;
      sent++;
      this.sendCopy(m, node, -1, q, nowMs);
    }
  }

  /** Pushes `m` from position `p` to its mesh peers, except the peer it came from and the publisher. */
  private forward(m: MessageState, p: number, nowMs: number, exclude: number): void {
    const t = m.topic;
    const node = t.posNode[p]!;
    const base = p * this.meshWidth;
    const deg = t.meshDeg[p]!;
    const big = m.wireBytes - this.opts.dataOverheadBytes >= this.opts.idontwantMinBytes;
    for (let k = 0; k < deg; k++) {
      const q = t.mesh[base + k]!;
      if (q === exclude || q === m.originPos || q >= m.cap) continue;
      const st = m.status[q]!;
      if (big && st >= ST_ACCEPT) {
        // q already had it and told us so with IDONTWANT before we got to forward.
        const qNode = t.posNode[q]!;
        if (m.arrivalMs[q]! + this.network.baseLatencyMs(qNode, node) <= nowMs) {
          this.byKind[t.kind]!.suppressed++;
          this.meter.add(SAVED_IN, qNode, nowMs, m.wireBytes);
          continue;
        }
      }
      this.sendCopy(m, node, p, q, nowMs);
    }
    if (p !== m.originPos && deg > 0) {
      m.forwarders++;
      if (m.corruptId !== 0) this.corruptEntry(m).forwarders++;
    }
    if (big && deg > 1) {
      // IDONTWANT: this host sends one to each mesh peer but its source, and (links are symmetric)
      // receives about as many from them; counted here in O(1) rather than per peer.
      const n = deg - 1;
      const bytes = n * (this.opts.controlBaseBytes + this.opts.controlPerIdBytes);
      const counters = this.byKind[t.kind]!;
      counters.controlRpcs += n;
      counters.controlBytes += bytes;
      this.meter.add(BYTES_OUT, node, nowMs, bytes);
      this.meter.add(CTRL_IN, node, nowMs, n);
      this.meter.add(BYTES_IN, node, nowMs, bytes);
    }
  }

  /** One copy from `node` (at position `p`, or -1 from outside the topic) to position `q`. */
  private sendCopy(m: MessageState, node: number, p: number, q: number, nowMs: number): void {
    const t = m.topic;
    const counters = this.byKind[t.kind]!;
    const qNode = t.posNode[q]!;
    const bytes = m.wireBytes;
    this.meter.sent(node, nowMs, bytes);
    counters.copies++;
    counters.dataBytes += bytes;
    let a = this.network.transmit(node, qNode, bytes, nowMs);
    if (a === LOST || !this.alive[qNode]) return;
    a += this.opts.hopProcessingMs;
    const st = m.status[q]!;
    if (st === ST_NONE) {
      this.schedule(m, p, q, a);
    } else if (st === ST_PENDING && a < m.arrivalMs[q]!) {
      // A faster copy overtakes the pending one, which becomes the duplicate.
      this.duplicate(qNode, m.arrivalMs[q]!, bytes, counters);
      this.schedule(m, p, q, a);
    } else {
      this.duplicate(qNode, a, bytes, counters);
    }
  }

  private schedule(m: MessageState, fromPos: number, q: number, atMs: number): void {
    m.status[q] = ST_PENDING;
    m.arrivalMs[q] = atMs;
    m.fromPos[q] = fromPos;
    m.inFlight++;
    this.queue.push(atMs, EV_TOPIC, q, m.slot);
  }

  private duplicate(node: number, atMs: number, bytes: number, counters: TopicKindCounters): void {
    this.meter.received(node, atMs, bytes);
    this.meter.add(DUPS_IN, node, atMs, 1);
    counters.duplicates++;
  }

  /** Counts one control RPC from `a` to `b` carrying `ids` message ids. */
  private control(t: Topic, a: number, b: number, nowMs: number, ids: number): void {
    const bytes = this.opts.controlBaseBytes + ids * this.opts.controlPerIdBytes;
    const counters = this.byKind[t.kind]!;
    counters.controlRpcs++;
    counters.controlBytes += bytes;
    this.meter.add(BYTES_OUT, a, nowMs, bytes);
    if (!this.alive[b] || !this.network.reachable(a, b)) return;
    this.meter.add(CTRL_IN, b, nowMs, 1);
    this.meter.add(BYTES_IN, b, nowMs, bytes);
  }

  /**
   * A queued copy reaches position `pos`. Returns the host it was delivered to and ran
   * protocol code on, or -1 (a stale event: a faster copy got there first, or the receiver
   * left). The caller folds delivered events into the trace hash.
   */
  onTopicEvent(pos: number, slot: number, nowMs: number): number {
    const m = this.messages[slot]!;
    m.inFlight--;
    if (m.status[pos] !== ST_PENDING || m.arrivalMs[pos] !== nowMs) return -1;
    const t = m.topic;
    const node = t.posNode[pos]!;
    if (node < 0 || !this.alive[node] || t.posSinceMs[pos]! > m.publishedAtMs) {
      m.status[pos] = ST_NONE;
      return -1;
    }
    const from = m.fromPos[pos]!;
    const fromNode = from >= 0 ? t.posNode[from]! : m.origin;
    const hop = from >= 0 ? m.hops[from]! + 1 : 1;
    m.hops[pos] = hop > 255 ? 255 : hop;
    if (hop > m.maxHop) m.maxHop = hop;
    this.meter.received(node, nowMs, m.wireBytes);
    if (this.hopLatencySamples.length < HOP_SAMPLE_CAP && from >= 0) this.hopLatencySamples.push(nowMs - m.arrivalMs[from]!);
    this.byKind[t.kind]!.firstCopies++;
    const verdict = this.sink.deliverTopic(node, t, fromNode < 0 ? m.origin : fromNode, m, nowMs);
    m.settled++;
    if (m.corruptId !== 0) {
      const c = this.corruptEntry(m);
      c.receivers++;
      if (verdict === 'accept') c.accepted++;
      if (hop > c.maxHop) c.maxHop = hop;
    }
    if (verdict === 'accept') {
      m.status[pos] = ST_ACCEPT;
      m.accepted++;
      this.forward(m, pos, nowMs, from);
    } else {
      m.status[pos] = verdict === 'reject' ? ST_REJECT : ST_IGNORE;
      if (verdict === 'reject') {
        m.rejected++;
        this.byKind[t.kind]!.rejected++;
      }
    }
    return node;
  }

  private corruptEntry(m: MessageState): { id: number; receivers: number; accepted: number; forwarders: number; maxHop: number; publishedAtMs: number } {
    for (let i = this.corrupt.length - 1; i >= 0; i--) if (this.corrupt[i]!.id === m.corruptId) return this.corrupt[i]!;
    throw new Error(`corrupt message ${m.corruptId} not tracked`);
  }

  /** One gossipsub heartbeat for every host (aligned; see the README on why that is fair). */
  heartbeat(nowMs: number): void {
    const o = this.opts;
    const gossipFromMs = nowMs - o.historyGossip * o.heartbeatMs;
    for (const t of this.topics.values()) {
      if (t.dirty.length > 0) this.maintainMesh(t, nowMs);
      if (t.lastPublishMs > gossipFromMs && t.count > 1) this.lazyGossip(t, nowMs, gossipFromMs);
      this.retire(t, nowMs);
    }
  }

  private maintainMesh(t: Topic, nowMs: number): void {
    const o = this.opts;
    const dirty = t.dirty;
    t.dirty = [];
    for (const p of dirty) {
      t.dirtyFlag[p] = 0;
      const node = t.posNode[p]!;
      if (node < 0 || !this.alive[node]) continue;
      const deg = t.meshDeg[p]!;
      if (deg < o.Dlo) {
        this.graft(t, p, o.D - deg, nowMs);
        // Keep trying while peers exist that could fill the mesh (a topic still filling up, a partition).
        if (t.meshDeg[p]! < o.Dlo && t.count - 1 > t.meshDeg[p]!) t.markDirty(p);
      } else if (deg > o.Dhi) this.prune(t, p, deg - o.D, nowMs);
    }
  }

  /** GRAFTs up to `want` random reachable subscribers into p's mesh. */
  private graft(t: Topic, p: number, want: number, nowMs: number): void {
    const node = t.posNode[p]!;
    const others = t.count - 1;
    if (others <= 0) return;
    for (let tries = 0, added = 0; added < want && tries < want * 4 + 4; tries++) {
      const q = t.members[this.rng.int(t.count)]!;
      if (q === p || t.inMesh(p, q)) continue;
      const qNode = t.posNode[q]!;
      if (!this.alive[qNode] || !this.network.reachable(node, qNode)) continue;
      if (!t.link(p, q)) continue;
      added++;
      this.control(t, node, qNode, nowMs, 0);
      if (t.meshDeg[q]! > this.opts.Dhi) t.markDirty(q);
    }
  }

  private prune(t: Topic, p: number, excess: number, nowMs: number): void {
    const node = t.posNode[p]!;
    const base = p * this.meshWidth;
    for (let i = 0; i < excess && t.meshDeg[p]! > 0; i++) {
      const q = t.mesh[base + this.rng.int(t.meshDeg[p]!)]!;
      t.unlink(p, q);
      this.control(t, node, t.posNode[q]!, nowMs, 0);
      if (t.meshDeg[q]! < this.opts.Dlo) t.markDirty(q);
    }
  }

  /**
   * IHAVE gossip to non-mesh peers, counted in aggregate, then IWANT repair for messages
   * that some live member still lacks after a heartbeat.
   */
  private lazyGossip(t: Topic, nowMs: number, gossipFromMs: number): void {
    const o = this.opts;
    let ids = 0;
    for (let i = t.active.length - 1; i >= 0 && t.active[i]!.publishedAtMs > gossipFromMs; i--) ids++;
    const bytes = o.controlBaseBytes + ids * o.controlPerIdBytes;
    const connected = Math.min(o.connectedPeersPerTopic, t.count - 1);
    let totalTargets = 0;
    let live = 0;
    const counters = this.byKind[t.kind]!;
    for (let i = 0; i < t.count; i++) {
      const p = t.members[i]!;
      const node = t.posNode[p]!;
      if (!this.alive[node]) continue;
      live++;
      const candidates = connected - t.meshDeg[p]!;
      if (candidates <= 0) continue;
      const k = Math.min(candidates, Math.max(o.Dlazy, Math.floor(o.gossipFactor * candidates)));
      totalTargets += k;
      this.meter.add(BYTES_OUT, node, nowMs, k * bytes);
    }
    if (live === 0 || totalTargets === 0) return;
    const perMember = totalTargets / live;
    counters.controlRpcs += totalTargets;
    counters.controlBytes += totalTargets * bytes;
    for (let i = 0; i < t.count; i++) {
      const node = t.posNode[t.members[i]!]!;
      if (!this.alive[node]) continue;
      this.meter.add(CTRL_IN, node, nowMs, perMember);
      this.meter.add(BYTES_IN, node, nowMs, perMember * bytes);
    }
    const k = Math.max(1, Math.round(perMember));
    for (let i = t.active.length - 1; i >= 0; i--) {
      const m = t.active[i]!;
      if (m.publishedAtMs <= gossipFromMs) break;
      // Give the mesh half a heartbeat to deliver before judging a message incomplete (copies still hopping are not lost).
      if (m.publishedAtMs > nowMs - o.heartbeatMs / 2) continue;
      this.repair(m, k, nowMs);
    }
  }

  /** Each live member lacking `m` hears IHAVE from `k` random members; the first holder it reaches sends it. */
  private repair(m: MessageState, k: number, nowMs: number): void {
    const t = m.topic;
    // Cheap exit: every live member already settled or about to.
    const lacking = t.count - t.deadMembers - m.settled - (m.originPos >= 0 ? 1 : 0);
    if (lacking <= 0) return;
    for (let i = 0; i < t.count; i++) {
      const q = t.members[i]!;
      if (q >= m.cap) continue;
      if (m.status[q] !== ST_NONE) continue;
      const qNode = t.posNode[q]!;
      if (!this.alive[qNode] || t.posSinceMs[q]! > m.publishedAtMs) continue;
      for (let j = 0; j < k; j++) {
        const r = t.members[this.rng.int(t.count)]!;
        if (r >= m.cap) continue;
        const rs = m.status[r]!;
        if (rs !== ST_ACCEPT && rs !== ST_ORIGIN) continue;
        const rNode = t.posNode[r]!;
        if (!this.alive[rNode] || !this.network.reachable(rNode, qNode)) continue;
        // IHAVE r→q, IWANT q→r, then the message r→q.
        this.control(t, qNode, rNode, nowMs, 1);
        const askedAt = nowMs + this.network.latencyMs(rNode, qNode) + this.network.latencyMs(qNode, rNode);
        const bytes = m.wireBytes;
        this.meter.sent(rNode, askedAt, bytes);
        const a = this.network.transmit(rNode, qNode, bytes, askedAt);
        if (a === LOST) break;
        this.byKind[t.kind]!.iwantRecoveries++;
        this.schedule(m, r, q, a + this.opts.hopProcessingMs);
        break;
      }
    }
  }

  private retire(t: Topic, nowMs: number): void {
    const cacheFromMs = nowMs - this.opts.historyLength * this.opts.heartbeatMs;
    while (t.active.length > 0) {
      const m = t.active[0]!;
      if (m.publishedAtMs > cacheFromMs || m.inFlight > 0) break;
      t.active.shift();
      if (t.byKey.get(m.key) === m) t.byKey.delete(m.key);
      this.messages[m.slot] = undefined;
      this.freeSlots.push(m.slot);
      this.pool.give(m);
    }
  }

  /** Messages still in some topic's cache (for memory accounting). */
  get liveMessages(): number {
    return this.messages.length - this.freeSlots.length;
  }

  /** Mean mesh degree over live members of topics of `kind` (for the report). */
  meanMeshDegree(kind: string): number {
    let sum = 0;
    let n = 0;
    for (const t of this.topics.values()) {
      if (this.kindNames[t.kind] !== kind) continue;
      for (let i = 0; i < t.count; i++) {
        const p = t.members[i]!;
        if (!this.alive[t.posNode[p]!]) continue;
        sum += t.meshDeg[p]!;
        n++;
      }
    }
    return n > 0 ? sum / n : 0;
  }
}

/** FNV-1a over the bytes: the simulator's stand-in for gossipsub's content-hash message id. */
export function hashBytes(bytes: Uint8Array): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < bytes.length; i++) h = Math.imul(h ^ bytes[i]!, 0x01000193);
  return h >>> 0;
}
