import type { Encoded, Outbox } from '../../src/core/protocol.ts';
import { SeededRng, type Rng } from '../../src/core/rng.ts';
import type { PeerIdStr, Verdict } from '../../src/core/transport.ts';
import { GossipNode, decodeDirect, decodeTopicMessage, resolveGossipOptions, type GossipOptions, type SeedPeer, type SelfPatch } from '../../src/gossip/index.ts';

/**
 * A small deterministic in-process world for GossipNodes: a virtual clock, a binary-heap
 * event queue, and a flood network with a fixed latency (every subscriber of a topic gets
 * every message once, like a gossipsub mesh without duplicates). Like the simulator, a
 * message is decoded once and the decoded object is shared by every receiver; a message
 * that fails to decode is rejected at its first hop and delivered to nobody.
 */

interface Ev {
  at: number;
  seq: number;
  kind: 0 | 1 | 2; // 0 timer, 1 topic, 2 direct
  node: PeerIdStr;
  gen: number;
  topic: string;
  from: PeerIdStr;
  payload: Encoded | null;
}

class Heap {
  private readonly a: Ev[] = [];
  get size(): number {
    return this.a.length;
  }
  peek(): Ev | undefined {
    return this.a[0];
  }
  push(e: Ev): void {
    const a = this.a;
    a.push(e);
    let i = a.length - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (less(a[p]!, a[i]!)) break;
      [a[p], a[i]] = [a[i]!, a[p]!];
      i = p;
    }
  }
  pop(): Ev | undefined {
    const a = this.a;
    const top = a[0];
    const last = a.pop();
    if (a.length > 0 && last) {
      a[0] = last;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < a.length && less(a[l]!, a[m]!)) m = l;
        if (r < a.length && less(a[r]!, a[m]!)) m = r;
        if (m === i) break;
        [a[m], a[i]] = [a[i]!, a[m]!];
        i = m;
      }
    }
    return top;
  }
}

function less(x: Ev, y: Ev): boolean {
  return x.at < y.at || (x.at === y.at && x.seq < y.seq);
}

interface Host {
  id: PeerIdStr;
  node: GossipNode;
  up: boolean;
  subs: Set<string>;
  gen: number;
  connects: PeerIdStr[];
}

export interface HarnessOptions {
  seed: number;
  latencyMs?: number;
  gossip?: Partial<GossipOptions>;
}

export interface VerdictCounts {
  accept: number;
  reject: number;
  ignore: number;
}

/** Seeds as the harness addresses them (`/mem/<id>`). */
const memSeeds = (seeds: readonly PeerIdStr[]): SeedPeer[] => seeds.map((peer) => ({ peer, addrs: [`/mem/${peer}`] }));

export class GossipHarness {
  now = 0;
  readonly hosts = new Map<PeerIdStr, Host>();
  readonly seed: number;
  /** Messages whose decode failed, by reason: rejected at the first hop, never delivered. */
  readonly decodeRejects = new Map<string, number>();
  /** Verdicts returned by receivers' onTopicMessage. */
  readonly verdicts: VerdictCounts = { accept: 0, reject: 0, ignore: 0 };
  published = 0;
  directSent = 0;
  /** Optional tap on every decoded publication (tests count message kinds with it). */
  onPublish: ((from: PeerIdStr, topic: string, payload: Encoded) => void) | null = null;
  /** Optional filter on topic deliveries: false drops the copy (a mesh split, a lossy link). */
  topicLink: ((from: PeerIdStr, to: PeerIdStr, topic: string) => boolean) | null = null;
  /** Optional tap on every decoded direct message (tests read sync answers with it). */
  onDirect: ((from: PeerIdStr, to: PeerIdStr, payload: Encoded) => void) | null = null;
  /** Optional filter on direct messages: false drops them (with topicLink: a partition). */
  directLink: ((from: PeerIdStr, to: PeerIdStr, type: string) => boolean) | null = null;
  private readonly heap = new Heap();
  private seq = 0;
  private readonly rng: Rng;
  private readonly latencyMs: number;
  private readonly gossip: Partial<GossipOptions>;

  constructor(opts: HarnessOptions) {
    this.seed = opts.seed;
    this.rng = new SeededRng(opts.seed);
    this.latencyMs = opts.latencyMs ?? 5;
    this.gossip = opts.gossip ?? {};
  }

  node(id: PeerIdStr): GossipNode {
    const h = this.hosts.get(id);
    if (!h) throw new Error(`no node ${id}`);
    return h.node;
  }

  get upNodes(): GossipNode[] {
    return [...this.hosts.values()].filter((h) => h.up).map((h) => h.node);
  }

  /** Creates and starts a node; `seeds` are joined through push-pull sync. */
  add(id: PeerIdStr, opts: { facts?: SelfPatch; incarnation?: number; seeds?: PeerIdStr[]; gossip?: Partial<GossipOptions> } = {}): GossipNode {
    const host: Host = { id, node: undefined as unknown as GossipNode, up: true, subs: new Set(), gen: 0, connects: [] };
    const outbox: Outbox = {
      publish: (topic, payload) => this.publish(host, topic, payload),
      subscribe: (topic) => host.subs.add(topic),
      unsubscribe: (topic) => host.subs.delete(topic),
      send: (to, payload) => this.send(host, to, payload),
      connect: (peer) => host.connects.push(peer),
    };
    const gossipOpts = resolveGossipOptions({ ...this.gossip, ...opts.gossip, incarnation: opts.incarnation ?? 0 });
    host.node = new GossipNode(gossipOpts, { self: id, rng: this.rng.fork(`node/${id}/${opts.incarnation ?? 0}`), outbox, metrics: null });
    this.hosts.set(id, host);
    host.node.updateSelf(opts.facts ?? defaultFacts(id), this.now);
    if (opts.seeds?.length) host.node.join(memSeeds(opts.seeds), this.now);
    host.node.start(this.now);
    this.arm(host);
    return host.node;
  }

  /** A runtime join (`shoal join` on a running agent): the node pushes-pulls with the seeds now. */
  join(id: PeerIdStr, seeds: PeerIdStr[]): void {
    const h = this.hosts.get(id)!;
    h.node.join(memSeeds(seeds), this.now);
    this.arm(h);
  }

  /** kill -9: the node stops answering and publishing, without a leave. */
  crash(id: PeerIdStr): void {
    const h = this.hosts.get(id)!;
    h.up = false;
    h.gen++;
    h.subs.clear();
  }

  /** SIGTERM: graceful leave. */
  leave(id: PeerIdStr): void {
    const h = this.hosts.get(id)!;
    h.node.stop(this.now);
    h.up = false;
    h.gen++;
    h.subs.clear();
  }

  /** A fresh node under the same id (the agent restarted), with a higher incarnation. */
  restart(id: PeerIdStr, incarnation: number, seeds: PeerIdStr[], facts?: SelfPatch): GossipNode {
    this.hosts.delete(id);
    return this.add(id, { incarnation, seeds, ...(facts ? { facts } : {}) });
  }

  /** Calls `fn` on a node and re-arms its timer, as a driver must after every handler call. */
  act<T>(id: PeerIdStr, fn: (node: GossipNode) => T): T {
    const h = this.hosts.get(id)!;
    const out = fn(h.node);
    this.arm(h);
    return out;
  }

  /** Publishes raw bytes on `topic` as if `origin` had signed them (a garbage, stale or forged message). */
  inject(topic: string, bytes: Uint8Array, origin: PeerIdStr): VerdictCounts {
    const counts: VerdictCounts = { accept: 0, reject: 0, ignore: 0 };
    let payload: Encoded;
    try {
      payload = decodeTopicMessage(topic, bytes);
    } catch (err) {
      const code = (err as { code?: string }).code ?? 'unknown';
      this.decodeRejects.set(code, (this.decodeRejects.get(code) ?? 0) + 1);
      counts.reject++;
      return counts;
    }
    for (const h of this.hosts.values()) {
      if (!h.up || !h.subs.has(topic)) continue;
      const v = h.node.onTopicMessage(topic, origin, origin, payload, this.now);
      this.arm(h);
      counts[v]++;
    }
    return counts;
  }

  run(ms: number): void {
    this.runTo(this.now + ms);
  }

  /** Runs until `cond()` holds (checked every `stepMs`), or fails after `timeoutMs` with `what` and the seed. */
  runUntil(cond: () => boolean, timeoutMs: number, what: string, stepMs = 50): number {
    const start = this.now;
    while (!cond()) {
      if (this.now - start >= timeoutMs) throw new Error(`${what}: not reached within ${timeoutMs} ms of simulated time (seed ${this.seed})`);
      this.runTo(this.now + stepMs);
    }
    return this.now - start;
  }

  private runTo(t: number): void {
    for (;;) {
      const top = this.heap.peek();
      if (!top || top.at > t) break;
      this.heap.pop();
      if (top.at > this.now) this.now = top.at;
      const h = this.hosts.get(top.node);
      if (!h || !h.up) continue;
      if (top.kind === 0) {
        if (top.gen !== h.gen) continue;
        h.node.onTimer(this.now);
      } else if (top.kind === 1) {
        if (!h.subs.has(top.topic)) continue;
        const v: Verdict = h.node.onTopicMessage(top.topic, top.from, top.from, top.payload!, this.now);
        this.verdicts[v]++;
      } else {
        h.node.onDirect(top.from, top.payload!, this.now);
      }
      this.arm(h);
    }
    if (t > this.now) this.now = t;
  }

  private arm(h: Host): void {
    h.gen++;
    if (!h.up) return;
    const at = h.node.nextTimerAtMs();
    if (at === Infinity) return;
    this.heap.push({ at: Math.max(at, this.now), seq: this.seq++, kind: 0, node: h.id, gen: h.gen, topic: '', from: '', payload: null });
  }

  private publish(from: Host, topic: string, payload: Encoded): void {
    this.published++;
    // The receivers share the bytes' one decoding, as in the simulator.
    let decoded: Encoded;
    try {
      decoded = decodeTopicMessage(topic, payload.bytes);
    } catch (err) {
      // A node must never publish what its peers cannot decode: that is a bug, not noise.
      throw new Error(`${from.id} published an undecodable message on ${topic}: ${String(err)} (seed ${this.seed})`);
    }
    this.onPublish?.(from.id, topic, decoded);
    const at = this.now + this.latencyMs;
    for (const h of this.hosts.values()) {
      if (h === from || !h.up || !h.subs.has(topic)) continue;
      if (this.topicLink && !this.topicLink(from.id, h.id, topic)) continue;
      this.heap.push({ at, seq: this.seq++, kind: 1, node: h.id, gen: 0, topic, from: from.id, payload: decoded });
    }
  }

  private send(from: Host, to: PeerIdStr, payload: Encoded): void {
    this.directSent++;
    const decoded = decodeDirect(payload.bytes);
    this.onDirect?.(from.id, to, decoded);
    if (this.directLink && !this.directLink(from.id, to, (decoded.msg as { type: string }).type)) return;
    this.heap.push({ at: this.now + this.latencyMs, seq: this.seq++, kind: 2, node: to, gen: 0, topic: '', from: from.id, payload: decoded });
  }
}

/** A plausible host: 32 vCPUs, 128 GiB, 1 TiB, half free, zone by id hash. */
export function defaultFacts(id: string): SelfPatch {
  return {
    zone: `zone-${id.length % 3}`,
    drivers: ['qemu', 'process'],
    capacity: { vcpus: 32, memoryMiB: 131072, diskGiB: 1024 },
    free: { vcpus: 16, memoryMiB: 65536, diskGiB: 512 },
    addrs: [`/mem/${id}`],
    labels: { rack: `r${id.length}` },
  };
}
