import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { Encoded, Millis, PeerIdStr, ProtocolNode, Verdict } from '../../src/core/index.ts';
import { generateSwarmKey } from '../../src/net/swarm-key.ts';
import { Histogram } from '../metrics/histogram.ts';
import { defaultNetworkOptions } from '../network/network-model.ts';
import { defaultGossipsubModelOptions } from '../overlay/gossipsub-options.ts';
import { World, defaultWorldOptions } from '../world/world.ts';
import { calibrationPayload } from './payload.ts';
import type { NodeReport, NodeRequest } from './real-node.ts';

/**
 * Calibration of the gossipsub overlay model against real agents' transport: N real libp2p
 * nodes (the Shoal adapter, src/net) on 127.0.0.1 and the model with N hosts run the same
 * workload — one topic, each host dialling `dials` random others, M messages published
 * round-robin — and we compare deliveries, duplicates per delivery and publish-to-delivery
 * latency. Loopback has no wire latency, so the model runs with near-zero link latency and
 * its per-hop processing time as the only delay: the comparison checks the model's
 * mechanics (mesh, forwarding, duplicates) and its hop cost, not a data center's wires.
 */
export interface CalibrationOptions {
  nodes: number;
  /** Random peers each node dials (Shoal dials 8 cell members). */
  dials: number;
  messages: number;
  payloadBytes: number;
  publishIntervalMs: number;
  seed: number;
}

export const defaultCalibrationOptions: CalibrationOptions = {
  nodes: 16, // hosts; a small cell, well under one core's gossipsub capacity (FACTS.md: ~620 deliveries/s)
  dials: 8, // peers; Shoal's cellConnections
  messages: 60, // messages; enough for stable duplicate ratios
  payloadBytes: 300, // bytes; a host record with framing, under IDONTWANT's 512-byte threshold
  publishIntervalMs: 100, // ms; 10 msgs/s × 15 receivers stays far from CPU saturation
  seed: 7,
};

/**
 * Payload sizes calibrated: a host record, under IDONTWANT's 512-byte threshold, and a district
 * digest, over it. At 16 nodes on loopback real gossipsub 17 received ~6 copies per delivery at
 * both sizes; the model, whose IDONTWANT suppresses copies in flight, ~2.8 for the big one.
 */
export const CALIBRATION_PAYLOADS: readonly number[] = [300, 30_000];

export interface CalibrationSide {
  /** First deliveries per (message, non-publisher) pair: 1 when everyone got everything. */
  deliveryRatio: number;
  /** Copies received beyond the first, per first delivery. */
  duplicatesPerDelivery: number;
  /** Of the copies nodes would have sent, the share not sent because the receiver's IDONTWANT had arrived. */
  idontwantSkippedFraction: number;
  latencyMs: { p50: number | null; p90: number | null; p99: number | null; max: number | null };
}

export interface CalibrationResult {
  readonly opts: CalibrationOptions;
  readonly real: CalibrationSide;
  readonly model: CalibrationSide;
  /** model − real, for the figures above. */
  readonly difference: { deliveryRatio: number; duplicatesPerDelivery: number; idontwantSkippedFraction: number; latencyP50Ms: number | null; latencyP99Ms: number | null };
}

const TOPIC = 'shoal/1/calib/b0/c0';

function lcg(seed: number): () => number {
  let s = seed >>> 0 || 1;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 4294967296;
  };
}

/** Who dials whom: the same random graph for both sides. */
function dialPlan(o: CalibrationOptions): [number, number][] {
  const rnd = lcg(o.seed);
  const edges = new Set<string>();
  const out: [number, number][] = [];
  for (let a = 0; a < o.nodes; a++) {
    for (let k = 0, tries = 0; k < o.dials && tries < o.dials * 10; tries++) {
      const b = Math.floor(rnd() * o.nodes);
      const key = a < b ? `${a}-${b}` : `${b}-${a}`;
      if (b === a || edges.has(key)) continue;
      edges.add(key);
      out.push([a, b]);
      k++;
    }
  }
  return out;
}

async function waitFor(cond: () => Promise<boolean>, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error(`calibration: timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** A forked real-node.ts; its answers are matched to requests by `rid`. */
class NodeProcess {
  private readonly child: ChildProcess;
  private nextRid = 0;
  private readonly pending = new Map<number, { resolve: (v: Record<string, unknown>) => void; reject: (e: Error) => void }>();

  constructor() {
    this.child = fork(fileURLToPath(new URL('./real-node.ts', import.meta.url)), [], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    this.child.on('message', (m: { rid: number; error?: string }) => {
      const p = this.pending.get(m.rid);
      this.pending.delete(m.rid);
      if (m.error !== undefined) p?.reject(new Error(`calibration node: ${m.error}`));
      else p?.resolve(m as Record<string, unknown>);
    });
    this.child.on('exit', (code) => {
      for (const p of this.pending.values()) p.reject(new Error(`calibration node exited (code ${code}) before answering`));
      this.pending.clear();
    });
  }

  call<T>(req: DistributiveOmit<NodeRequest, 'rid'>): Promise<T> {
    const rid = ++this.nextRid;
    return new Promise<T>((resolve, reject) => {
      this.pending.set(rid, { resolve: resolve as (v: Record<string, unknown>) => void, reject });
      this.child.send({ ...req, rid });
    });
  }

  kill(): void {
    this.child.kill('SIGKILL');
  }
}

type DistributiveOmit<T, K extends keyof T> = T extends unknown ? Omit<T, K> : never;

/**
 * The real side: Shoal's libp2p adapter, one node per process (each its own event loop, as on
 * separate hosts), counting every copy gossipsub receives (duplicates included).
 */
export async function calibrateReal(o: CalibrationOptions): Promise<CalibrationSide> {
  const swarmKey = Array.from(generateSwarmKey());
  const nodes = Array.from({ length: o.nodes }, () => new NodeProcess());
  try {
    const info = await Promise.all(nodes.map((n) => n.call<{ self: string; addrs: string[] }>({ cmd: 'init', swarmKey, topic: TOPIC })));
    for (const [a, b] of dialPlan(o)) await nodes[a]!.call({ cmd: 'dial', peer: info[b]!.self, addrs: info[b]!.addrs });
    // Meshes form at heartbeats; wait until every node has at least Dlo mesh peers (or all it can have).
    await waitFor(
      async () => (await Promise.all(nodes.map((n) => n.call<{ mesh: number; peers: number }>({ cmd: 'mesh' })))).every((m) => m.mesh >= Math.min(4, m.peers) && m.peers > 0),
      20_000,
      'gossipsub meshes',
    );
    await new Promise((r) => setTimeout(r, 2_000));
    const sentAt = new Float64Array(o.messages);
    for (let m = 0; m < o.messages; m++) {
      sentAt[m] = (await nodes[m % o.nodes]!.call<{ at: number }>({ cmd: 'publish', id: m, size: o.payloadBytes })).at;
      await new Promise((r) => setTimeout(r, o.publishIntervalMs));
    }
    const expected = o.messages * (o.nodes - 1);
    const reports = (): Promise<NodeReport[]> => Promise.all(nodes.map((n) => n.call<NodeReport>({ cmd: 'report' })));
    const delivered = (rs: NodeReport[]): number => rs.reduce((a, r) => a + r.firstAt.length, 0);
    await waitFor(async () => delivered(await reports()) >= expected, 10_000, 'all deliveries').catch(() => {});
    // Late duplicates: let in-flight copies land.
    await new Promise((r) => setTimeout(r, 1_000));
    const rs = await reports();
    const lat = new Histogram();
    for (const r of rs) for (const [id, at] of r.firstAt) lat.add(at - sentAt[id]!);
    const got = delivered(rs);
    const totalCopies = rs.reduce((a, r) => a + r.copies, 0);
    const skipped = rs.reduce((a, r) => a + r.idontwantSkipped, 0);
    return {
      deliveryRatio: got / expected,
      duplicatesPerDelivery: got > 0 ? (totalCopies - got) / got : 0,
      idontwantSkippedFraction: skippedFraction(skipped, totalCopies),
      latencyMs: { p50: lat.quantile(0.5), p90: lat.quantile(0.9), p99: lat.quantile(0.99), max: lat.count > 0 ? lat.max : null },
    };
  } finally {
    await Promise.allSettled(nodes.map((n) => withTimeout(n.call({ cmd: 'stop' }), 5_000)));
    for (const n of nodes) n.kill();
  }
}

/** Copies not sent for IDONTWANT, over those plus every copy sent (on loopback every sent copy arrives). */
function skippedFraction(skipped: number, sent: number): number {
  return skipped + sent > 0 ? skipped / (skipped + sent) : 0;
}

function withTimeout<T>(p: Promise<T>, ms: number): Promise<T | undefined> {
  return Promise.race([p, new Promise<undefined>((r) => setTimeout(() => r(undefined), ms).unref())]);
}

/** A node that subscribes and accepts, recording first deliveries. */
class CalibrationNode implements ProtocolNode {
  readonly firstAt = new Map<number, number>();
  private readonly subscribe: () => void;
  constructor(subscribe: () => void) {
    this.subscribe = subscribe;
  }
  start(): void {
    this.subscribe();
  }
  stop(): void {}
  onTopicMessage(_t: string, _f: PeerIdStr, _o: PeerIdStr, p: Encoded, now: Millis): Verdict {
    const id = p.msg as number;
    if (!this.firstAt.has(id)) this.firstAt.set(id, now);
    return 'accept';
  }
  onDirect(): void {}
  onTimer(): void {}
  nextTimerAtMs(): Millis {
    return Infinity;
  }
}

/** The model side: the same graph size, messages and schedule through the world's gossipsub model. */
export function calibrateModel(o: CalibrationOptions): CalibrationSide {
  const loopback = 0.02; // ms; kernel loopback, no wire
  const world = new World<CalibrationNode>(
    {
      ...defaultWorldOptions,
      seed: o.seed,
      hostCapacity: o.nodes,
      clockResolutionMs: 0,
      network: { ...defaultNetworkOptions, sameRackMs: loopback, sameZoneMs: loopback, crossZoneMs: loopback, crossRegionMs: loopback, jitterFraction: 0.5 },
      gossipsub: { ...defaultGossipsubModelOptions, connectedPeersPerTopic: 2 * o.dials },
    },
    { factory: (ctx) => new CalibrationNode(() => ctx.outbox.subscribe(TOPIC)) },
  );
  for (let i = 0; i < o.nodes; i++) world.startHost(i, i, []);
  const startMs = 5_000;
  world.runUntil(startMs);
  const sentAt = new Float64Array(o.messages);
  for (let m = 0; m < o.messages; m++) {
    const at = startMs + m * o.publishIntervalMs;
    sentAt[m] = at;
    world.at(at, (now) => world.overlay.publish(m % o.nodes, TOPIC, { msg: m, bytes: calibrationPayload(m, o.payloadBytes) }, now));
  }
  world.runUntil(startMs + o.messages * o.publishIntervalMs + 5_000);
  const k = world.overlay.byKind[world.overlay.topics.get(TOPIC)!.kind]!;
  const lat = new Histogram();
  let got = 0;
  for (let i = 0; i < o.nodes; i++) {
    world.hosts[i]!.firstAt.forEach((at, id) => {
      lat.add(at - sentAt[id]!);
      got++;
    });
  }
  return {
    deliveryRatio: got / (o.messages * (o.nodes - 1)),
    duplicatesPerDelivery: got > 0 ? k.duplicates / got : 0,
    idontwantSkippedFraction: skippedFraction(k.suppressed, k.copies),
    latencyMs: { p50: lat.quantile(0.5), p90: lat.quantile(0.9), p99: lat.quantile(0.99), max: lat.count > 0 ? lat.max : null },
  };
}

export async function calibrate(o: CalibrationOptions = defaultCalibrationOptions): Promise<CalibrationResult> {
  const real = await calibrateReal(o);
  const model = calibrateModel(o);
  const d = (a: number | null, b: number | null): number | null => (a === null || b === null ? null : a - b);
  return {
    opts: o,
    real,
    model,
    difference: {
      deliveryRatio: model.deliveryRatio - real.deliveryRatio,
      duplicatesPerDelivery: model.duplicatesPerDelivery - real.duplicatesPerDelivery,
      idontwantSkippedFraction: model.idontwantSkippedFraction - real.idontwantSkippedFraction,
      latencyP50Ms: d(model.latencyMs.p50, real.latencyMs.p50),
      latencyP99Ms: d(model.latencyMs.p99, real.latencyMs.p99),
    },
  };
}
