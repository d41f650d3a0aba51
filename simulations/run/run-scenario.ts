import { SeededRng, ShoalError, type Millis, type PeerIdStr, type ProtocolNode } from '../../src/core/index.ts';
import { FlatHostModel } from '../baselines/flat-model.ts';
import { defaultFlatGossipOptions } from '../baselines/flat-gossip-node.ts';
import { Histogram } from '../metrics/histogram.ts';
import { BYTES_IN, BYTES_OUT, CTRL_IN, DUPS_IN, MSGS_IN, MSGS_OUT } from '../metrics/traffic-meter.ts';
import { defaultNetworkOptions } from '../network/network-model.ts';
import { defaultTopologyOptions } from '../network/topology.ts';
import { defaultGossipsubModelOptions } from '../overlay/gossipsub-options.ts';
import { evaluateAssertions } from '../scenario/assertions.ts';
import { overrideOptions } from '../scenario/options-override.ts';
import type { Scenario } from '../scenario/schema.ts';
import { ShoalHostModel } from '../shoal/shoal-model.ts';
import { FederatedShoalModel } from '../federation/federation-model.ts';
import { SyntheticHostModel } from '../bench/synthetic-model.ts';
import { World, defaultWorldOptions, type WorldOptions } from '../world/world.ts';
import { tuneHeapForSimulation } from '../engine/heap-tuning.ts';
import type { HostModel } from './host-model.ts';
import { LoadGenerator } from './load-generator.ts';
import { ConvergenceObserver, DetectionObserver } from './observers.ts';
import { scheduleEvent, startHost, type EventContext } from './scenario-events.ts';
import { summarise, type RunResult, type Series } from './result.ts';
import { Truth } from './truth.ts';

export interface Progress {
  readonly simMs: Millis;
  readonly durationMs: Millis;
  readonly wallMs: number;
  readonly events: number;
  readonly liveHosts: number;
}

export interface RunOptions {
  /** Called about once per simulated second. */
  onProgress?: (p: Progress) => void;
  /** Scenario event log lines. */
  log?: (line: string) => void;
  /** Run the baselines the scenario asks for (sweep workers turn them off). */
  baselines?: boolean;
  /** Builds the host model for `scenario.protocol` (the CLI injects the real one). */
  modelFactory?: (scenario: Scenario) => HostModel<ProtocolNode>;
}

/** Host models by protocol name. */
const modelFactories = new Map<string, (scenario: Scenario) => HostModel<ProtocolNode>>();
modelFactories.set('shoal', (s) => (s.federation !== undefined ? new FederatedShoalModel(s) : new ShoalHostModel(s)) as unknown as HostModel<ProtocolNode>);
modelFactories.set('synthetic', (s) => new SyntheticHostModel(s) as unknown as HostModel<ProtocolNode>);
modelFactories.set('flat', (s) => new FlatHostModel({ ...defaultFlatGossipOptions, intervalMs: s.flat.interval_ms, keepState: s.nodes <= 20_000 }) as unknown as HostModel<ProtocolNode>);

export function registerHostModel(protocol: string, factory: (scenario: Scenario) => HostModel<ProtocolNode>): void {
  modelFactories.set(protocol, factory);
}

export function worldOptionsFor(s: Scenario, hostCapacity: number): WorldOptions {
  const network = overrideOptions(defaultNetworkOptions, s.network, 'network');
  if (network.lossMode !== 'drop' && network.lossMode !== 'retransmit') {
    throw new ShoalError('SIM_SCENARIO_INVALID', `network.loss_mode must be "retransmit" or "drop", got "${String(network.lossMode)}"`, { option: 'loss_mode' });
  }
  return {
    ...defaultWorldOptions,
    seed: s.seed,
    hostCapacity,
    topology: overrideOptions(defaultTopologyOptions, s.topology, 'topology'),
    network,
    gossipsub: overrideOptions(defaultGossipsubModelOptions, s.gossipsub, 'gossipsub'),
  };
}

/**
 * Runs one scenario to the end and scores it. Everything random comes from the scenario's
 * seed, so the same scenario and seed give the same trace hash and the same figures.
 */
export function runScenario(scenario: Scenario, opts: RunOptions = {}): RunResult {
  tuneHeapForSimulation();
  const wallStart = performance.now();
  const log = opts.log ?? (() => {});
  const factory = opts.modelFactory ?? modelFactories.get(scenario.protocol);
  if (factory === undefined) throw new Error(`no host model registered for protocol "${scenario.protocol}"`);
  const model = factory(scenario);

  const joins = scenario.events.reduce((n, e) => n + (e.action === 'join-wave' ? e.count : 0), 0);
  const hostCapacity = scenario.nodes + joins;
  const world = new World<ProtocolNode>(worldOptionsFor(scenario, hostCapacity), {
    factory: (ctx) => model.build(ctx),
    topicKindOf: (t) => model.topicKindOf(t),
  });
  const truth = new Truth(world.ids, world.alive);
  const detection = new DetectionObserver(world, truth);
  model.bind(world, truth, detection);
  const rng = new SeededRng(scenario.seed).fork('run');
  const durationMs = scenario.duration_s * 1000;

  // A fixed random sample of hosts whose views are checked.
  const sampleRng = rng.fork('sample');
  const sampleSize = Math.min(scenario.metrics.sample_hosts, hostCapacity);
  const sample = new Int32Array(sampleSize);
  {
    const all = Array.from({ length: hostCapacity }, (_, i) => i);
    for (let i = 0; i < sampleSize; i++) {
      const j = i + sampleRng.int(all.length - i);
      [all[i], all[j]] = [all[j]!, all[i]!];
      sample[i] = all[i]!;
    }
  }
  const convergence = new ConvergenceObserver(world, model, sample, scenario.metrics.convergence_threshold, rng.fork('views'));

  // Seeds: a cold start uses a fixed bootstrap list (the first hosts); otherwise random hosts already up.
  // Both from the host's own group (cluster) when the model has groups.
  const groupOf = (h: number): number => model.groupOf?.(h) ?? 0;
  const startedIn: number[][] = [];
  const seedRng = rng.fork('seeds');
  const seedsFor = (h: number): PeerIdStr[] => {
    const out: PeerIdStr[] = [];
    const want = scenario.start.seeds;
    const g = groupOf(h);
    if (scenario.start.mode === 'cold') {
      for (let i = 0, n = 0; n < want && i < world.hostCount; i++) {
        if (groupOf(i) !== g) continue;
        n++;
        if (i !== h) out.push(world.ids[i]!);
      }
      return out;
    }
    const started = startedIn[g] ?? [];
    for (let tries = 0; out.length < want && tries < want * 8 && started.length > 0; tries++) {
      const s = started[seedRng.int(started.length)]!;
      if (s !== h && world.alive[s] && !out.includes(world.ids[s]!)) out.push(world.ids[s]!);
    }
    return out;
  };
  let nextJoin = scenario.nodes;
  const corruptions: EventContext<ProtocolNode>['corruptions'] = [];
  const ctx: EventContext<ProtocolNode> = {
    world,
    truth,
    model,
    rng: rng.fork('events'),
    detection,
    convergence,
    seedsFor,
    cellBits: () => majorityCellBits(model, world, sample),
    nextJoinIndex: () => (nextJoin < hostCapacity ? nextJoin++ : -1),
    log,
    corruptions,
  };

  // Boot.
  const startRng = rng.fork('start');
  const bootTimes = new Float64Array(scenario.nodes);
  for (let i = 0; i < scenario.nodes; i++) {
    bootTimes[i] = scenario.start.mode === 'cold' ? (i * 1000) / scenario.start.join_rate_per_s : i === 0 ? 0 : startRng.next() * scenario.start.spread_s * 1000;
  }
  const bootOrder = Array.from({ length: scenario.nodes }, (_, i) => i).sort((a, b) => bootTimes[a]! - bootTimes[b]! || a - b);
  // One callback per 10 ms of boot time, not one per host.
  const bootSliceMs = 10;
  let bootNext = 0;
  const bootSlice = (now: Millis): void => {
    while (bootNext < bootOrder.length && bootTimes[bootOrder[bootNext]!]! <= now) {
      const h = bootOrder[bootNext++]!;
      startHost(ctx, h, now);
      (startedIn[groupOf(h)] ??= []).push(h);
    }
    if (bootNext < bootOrder.length) world.at(now + bootSliceMs, bootSlice);
  };
  world.at(0, bootSlice);
  convergence.disturbance(0, scenario.start.mode === 'cold' ? 'cold start' : 'start');

  for (const ev of scenario.events) {
    if (ev.action === 'crash-zone') {
      const z = typeof ev.zone === 'number' ? ev.zone : world.topology.zoneIndex(ev.zone);
      if (z < 0 || z >= world.topology.zoneCount) {
        throw new ShoalError('SIM_SCENARIO_INVALID', `crash-zone at ${ev.at_s} s: no zone ${JSON.stringify(ev.zone)} (zones: ${world.topology.zones.join(', ')})`, { zone: ev.zone });
      }
    }
    if (ev.at_s > scenario.duration_s) log(`note: event ${ev.action} at ${ev.at_s} s is after the end of the run (${scenario.duration_s} s)`);
    scheduleEvent(ctx, ev);
  }

  // Placement load.
  let load: LoadGenerator | null = null;
  if (scenario.load !== undefined) {
    if (model.placement === undefined) throw new Error(`protocol "${scenario.protocol}" has no placement; remove [load]`);
    const capacityVcpus = (): number => model.placement!.audit().capacityVcpus;
    let capCache = -1;
    load = new LoadGenerator(scenario.load, {
      world,
      driver: model.placement,
      rng: rng.fork('load'),
      capacityVcpus: () => (capCache >= 0 ? capCache : (capCache = capacityVcpus())),
    });
    load.schedule(durationMs);
  }

  // Samplers.
  const recordStaleness = new Histogram();
  const summaryAge = new Histogram();
  const capacityStaleness = new Histogram();
  const queueSeries: Series['queues'] = [];
  // 1 s: the convergence CDF has 1 s resolution, and checking costs O(sample × cell size) per check.
  const checkEveryMs = 1000;
  const checkViews = (now: Millis): void => {
    convergence.check(now);
    if (now + checkEveryMs <= durationMs) world.at(now + checkEveryMs, checkViews);
  };
  world.at(checkEveryMs, checkViews);
  // Freshness is sampled while something changes capacity: during the placement load when there
  // is one (afterwards views are trivially current), otherwise from the end of warm-up.
  const freshnessWindow = (now: Millis): boolean => {
    if (now < scenario.metrics.warmup_s * 1000) return false;
    if (load === null || scenario.load === undefined) return true;
    return now >= scenario.load.start_s * 1000 && (scenario.load.lifetime_s > 0 || Number.isNaN(load.stoppedAtMs));
  };
  const backlog: number[] = [];
  const protoQueue: number[] = [];
  world.secondListeners.push((second, now) => {
    backlog.length = 0;
    protoQueue.length = 0;
    const freshHosts = Math.min(100, sample.length);
    for (let k = 0; k < sample.length; k++) {
      const h = sample[k]!;
      const node = world.hosts[h];
      if (!world.alive[h] || node === null || node === undefined) continue;
      backlog.push(world.network.uplinkBacklogBytes(h, now));
      if (model.queueDepth !== undefined) protoQueue.push(model.queueDepth(h, node));
      if (k < freshHosts && model.sampleFreshness !== undefined && freshnessWindow(now)) {
        model.sampleFreshness(h, node, now, recordStaleness, summaryAge, capacityStaleness);
      }
    }
    queueSeries.push({ t: second, uplinkMaxBytes: maxOf(backlog), uplinkP99Bytes: quantileOf(backlog, 0.99), protoMax: maxOf(protoQueue), protoP99: quantileOf(protoQueue, 0.99) });
  });

  // Run, one simulated second at a time for progress.
  for (let t = 1000; t <= durationMs; t += 1000) {
    world.runUntil(t);
    opts.onProgress?.({ simMs: t, durationMs, wallMs: performance.now() - wallStart, events: world.trace.events, liveHosts: world.liveCount() });
  }
  if (durationMs % 1000 !== 0) world.runUntil(durationMs);
  world.finish(durationMs);
  const wallMs = performance.now() - wallStart;

  const result = summarise({
    scenario,
    world,
    model,
    detection,
    convergence,
    load,
    recordStaleness,
    summaryAge,
    capacityStaleness,
    queueSeries,
    corruptions,
    wallMs,
  });

  if (opts.baselines !== false && scenario.protocol !== 'flat' && scenario.baselines.flat_gossip) {
    result.baselines.flat = runFlatBaseline(scenario, log);
    Object.assign(result.metrics, {
      flat_msgs_in_per_host_s_at_n: result.baselines.flat.extrapolated.msgsInPerHostS,
      flat_bytes_in_per_host_s_at_n: result.baselines.flat.extrapolated.bytesInPerHostS,
    });
  }
  result.assertions = evaluateAssertions(scenario.assert, result.metrics);
  result.passed = result.assertions.every((a) => a.pass);
  return result;
}

/** The cell bits most sampled live hosts use, when the model reports them (0 otherwise). */
function majorityCellBits(model: HostModel<ProtocolNode>, world: World<ProtocolNode>, sample: Int32Array): number {
  const reader = (model as { cellBitsOf?: (node: ProtocolNode) => number }).cellBitsOf;
  if (reader === undefined) return 0;
  const votes = new Map<number, number>();
  for (let k = 0; k < sample.length && k < 200; k++) {
    const node = world.hosts[sample[k]!];
    if (node === null || node === undefined) continue;
    const b = reader.call(model, node);
    votes.set(b, (votes.get(b) ?? 0) + 1);
  }
  let best = 0;
  let n = -1;
  for (const [b, c] of votes) if (c > n) [best, n] = [b, c];
  return best;
}

export interface FlatBaselineResult {
  readonly intervalMs: number;
  /** Measured at these sizes: steady per-host received msgs/s and bytes/s. */
  readonly measured: { nodes: number; msgsInPerHostS: number; bytesInPerHostS: number }[];
  /** Linear in N (each host receives every host's record ~duplicate-factor times): the measured slope, applied at the scenario's N. */
  readonly extrapolated: { nodes: number; msgsInPerHostS: number; bytesInPerHostS: number };
}

/** Naive flat gossip at two small sizes, extrapolated linearly to the scenario's size. */
export function runFlatBaseline(s: Scenario, log: (line: string) => void): FlatBaselineResult {
  const big = Math.min(s.nodes, s.baselines.flat_max_nodes);
  const sizes = [Math.max(10, Math.floor(big / 2)), big];
  const measured: FlatBaselineResult['measured'] = [];
  for (const n of sizes) {
    const flat: Scenario = {
      ...s,
      name: `${s.name}-flat-baseline`,
      protocol: 'flat',
      nodes: n,
      duration_s: s.baselines.flat_duration_s,
      events: [],
      load: undefined,
      assert: [],
      start: { ...s.start, mode: 'warm', spread_s: 1 },
      metrics: { ...s.metrics, warmup_s: Math.min(10, s.baselines.flat_duration_s / 3), steady_window_s: undefined, sample_hosts: Math.min(100, n) },
    };
    const r = runScenario(flat, { baselines: false });
    measured.push({ nodes: n, msgsInPerHostS: r.metrics['steady_msgs_in_per_host_s'] ?? 0, bytesInPerHostS: r.metrics['steady_bytes_in_per_host_s'] ?? 0 });
    log(`flat baseline at ${n} hosts: ${(r.metrics['steady_msgs_in_per_host_s'] ?? 0).toFixed(1)} msgs/s, ${((r.metrics['steady_bytes_in_per_host_s'] ?? 0) / 1024).toFixed(1)} KB/s received per host`);
  }
  const [a, b] = measured as [FlatBaselineResult['measured'][0], FlatBaselineResult['measured'][0]];
  const slope = (x1: number, x2: number): number => (b.nodes === a.nodes ? x2 / Math.max(1, b.nodes - 1) : (x2 - x1) / (b.nodes - a.nodes));
  const at = (x1: number, x2: number): number => x2 + slope(x1, x2) * (s.nodes - b.nodes);
  return {
    intervalMs: s.flat.interval_ms,
    measured,
    extrapolated: { nodes: s.nodes, msgsInPerHostS: at(a.msgsInPerHostS, b.msgsInPerHostS), bytesInPerHostS: at(a.bytesInPerHostS, b.bytesInPerHostS) },
  };
}

function maxOf(xs: number[]): number {
  let m = 0;
  for (const x of xs) if (x > m) m = x;
  return m;
}

function quantileOf(xs: number[], q: number): number {
  if (xs.length === 0) return 0;
  const s = Float64Array.from(xs).sort();
  return s[Math.min(s.length - 1, Math.floor(q * s.length))]!;
}

export const TRAFFIC_INDEX = { MSGS_IN, BYTES_IN, MSGS_OUT, BYTES_OUT, DUPS_IN, CTRL_IN };
