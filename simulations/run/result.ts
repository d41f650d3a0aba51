import type { ProtocolNode } from '../../src/core/index.ts';
import type { CdfPoint, Histogram } from '../metrics/histogram.ts';
import { BYTES_IN, BYTES_OUT, CTRL_IN, DUPS_IN, MSGS_IN, MSGS_OUT, SAVED_IN, type SecondStats } from '../metrics/traffic-meter.ts';
import type { TopicKindCounters } from '../overlay/gossipsub-model.ts';
import type { AssertionResult } from '../scenario/assertions.ts';
import type { Scenario } from '../scenario/schema.ts';
import type { HandlerError, World } from '../world/world.ts';
import type { HostModel } from './host-model.ts';
import type { LoadGenerator } from './load-generator.ts';
import type { ConvergenceObserver, DetectionObserver } from './observers.ts';
import type { FlatBaselineResult } from './run-scenario.ts';
import { bestFitBaseline, type BestFitBaselineResult } from '../baselines/central-best-fit.ts';
import type { CalibrationResult } from '../calibration/calibrate.ts';

export interface Series {
  /** Per simulated second: hosts counted, and per-host received/sent traffic (mean, p99, max over live hosts). */
  traffic: {
    t: number;
    hosts: number;
    msgsInMean: number;
    msgsInP99: number;
    msgsInMax: number;
    bytesInMean: number;
    bytesInP99: number;
    ctrlInMean: number;
    dupsInMean: number;
    msgsOutMean: number;
    bytesOutMean: number;
    /** Bytes per host the model's IDONTWANT kept from arriving (add to bytesInMean for the no-IDONTWANT bound). */
    savedInMean: number;
  }[];
  converged: { t: number; f: number }[];
  queues: { t: number; uplinkMaxBytes: number; uplinkP99Bytes: number; protoMax: number; protoP99: number }[];
}

export interface RunResult {
  scenario: string;
  description: string;
  protocol: string;
  seed: number;
  nodes: number;
  durationS: number;
  config: Record<string, unknown>;
  traceHash: string;
  deliveredEvents: number;
  queuedEvents: number;
  wallMs: number;
  metrics: Record<string, number | null>;
  series: Series;
  distributions: {
    convergenceS: CdfPoint[];
    detectionKnownS: CdfPoint[];
    detectionFailedS: CdfPoint[];
    placementLatencyMs: CdfPoint[];
    recordStalenessS: CdfPoint[];
    capacityStalenessS: CdfPoint[];
    summaryAgeS: CdfPoint[];
    hopLatencyMs: CdfPoint[];
    /** Requests by number of asks (index 1 = no retry). */
    asksPerRequest: number[];
    falseSuspicions: { suspect: number; failed: number; acrossPartition: number };
  };
  episodes: { atS: number; label: string; convergedAfterS: number | null }[];
  topicKinds: Record<string, TopicKindCounters & { meanMeshDegree: number }>;
  corrupt: {
    injections: { atS: number; host: number; topic: string; decodeRejected: boolean; bit: number }[];
    tracked: { id: number; receivers: number; accepted: number; forwarders: number; maxHop: number }[];
  };
  placement: Record<string, unknown> | null;
  baselines: { flat?: FlatBaselineResult; bestFit?: BestFitBaselineResult };
  /** The overlay model against real libp2p gossipsub at small N, one per payload size (CALIBRATION_PAYLOADS), when the run asked for it (--calibrate). */
  calibration?: CalibrationResult[];
  handlerErrors: HandlerError[];
  assertions: AssertionResult[];
  passed: boolean;
}

interface SummaryInput {
  scenario: Scenario;
  world: World<ProtocolNode>;
  model: HostModel<ProtocolNode>;
  detection: DetectionObserver;
  convergence: ConvergenceObserver<ProtocolNode>;
  load: LoadGenerator | null;
  recordStaleness: Histogram;
  summaryAge: Histogram;
  capacityStaleness: Histogram;
  queueSeries: Series['queues'];
  corruptions: RunResult['corrupt']['injections'];
  wallMs: number;
}

function seconds(h: Histogram, scale = 1000): CdfPoint[] {
  return h.cdf().map((p) => ({ value: p.value / scale, fraction: p.fraction }));
}

function meanOf(xs: readonly number[]): number | null {
  return xs.length === 0 ? null : xs.reduce((a, b) => a + b, 0) / xs.length;
}

function q(h: Histogram, p: number, scale = 1): number | null {
  const v = h.quantile(p);
  return v === null ? null : v / scale;
}

/** Seconds over which peak rates are averaged. */
export const RATE_WINDOW_S = 5;

/** The highest mean of `window` consecutive values (of all of them when fewer); null when empty. */
export function maxMovingMean(values: readonly number[], window: number): number | null {
  if (values.length === 0) return null;
  const w = Math.min(window, values.length);
  let sum = 0;
  for (let i = 0; i < w; i++) sum += values[i]!;
  let best = sum;
  for (let i = w; i < values.length; i++) {
    sum += values[i]! - values[i - w]!;
    if (sum > best) best = sum;
  }
  return best / w;
}

/** Scores a finished run: per-second series, distributions and the scalar metrics assertions read. */
export function summarise(inp: SummaryInput): RunResult {
  const { scenario: s, world, model, detection, convergence, load } = inp;
  const series = world.meter.series;
  const traffic = series.map((x: SecondStats) => ({
    t: x.second,
    hosts: x.hosts,
    msgsInMean: x.mean[MSGS_IN]!,
    msgsInP99: x.p99[MSGS_IN]!,
    msgsInMax: x.max[MSGS_IN]!,
    bytesInMean: x.mean[BYTES_IN]!,
    bytesInP99: x.p99[BYTES_IN]!,
    ctrlInMean: x.mean[CTRL_IN]!,
    dupsInMean: x.mean[DUPS_IN]!,
    msgsOutMean: x.mean[MSGS_OUT]!,
    bytesOutMean: x.mean[BYTES_OUT]!,
    savedInMean: x.mean[SAVED_IN]!,
  }));

  // Steady window: explicit, or from the end of warm-up to the first event (or the end).
  const firstEventS = Math.min(s.duration_s, ...s.events.filter((e) => e.action !== 'corrupt' && e.action !== 'capacity-drift').map((e) => e.at_s), s.load?.start_s ?? Infinity);
  const [steadyFrom, steadyTo] = s.metrics.steady_window_s ?? [s.metrics.warmup_s, firstEventS];
  const steady = traffic.filter((x) => x.t >= steadyFrom && x.t < steadyTo && x.hosts > 0);
  const after = traffic.filter((x) => x.t >= Math.max(steadyTo, s.metrics.warmup_s) && x.hosts > 0);
  // Rates are RATE_WINDOW_S moving averages: a 1-s peak of a bursty but steady load (heartbeats
  // of hosts started together) is already ~2× its mean, so it would not tell a storm from noise.
  const peakOf = (rows: typeof traffic, f: (x: (typeof traffic)[0]) => number): number | null => maxMovingMean(rows.map(f), RATE_WINDOW_S);
  const steadyMsgs = meanOf(steady.map((x) => x.msgsInMean));
  const steadyBytes = meanOf(steady.map((x) => x.bytesInMean));
  const steadyCtrl = meanOf(steady.map((x) => x.ctrlInMean));
  const peakMsgs = peakOf(after, (x) => x.msgsInMean);
  const peakBytes = peakOf(after, (x) => x.bytesInMean);
  const peakAll = peakOf(after, (x) => x.msgsInMean + x.ctrlInMean);
  const ratio = (a: number | null, b: number | null): number | null => (a === null || b === null || b === 0 ? null : a / b);

  const kinds: RunResult['topicKinds'] = {};
  world.overlay.kindNames.forEach((k, i) => {
    kinds[k] = { ...world.overlay.byKind[i]!, meanMeshDegree: world.overlay.meanMeshDegree(k) };
  });

  const episodes = convergence.episodes;
  const disturbanceEpisodes = episodes.filter((e) => e.label !== 'start' && e.label !== 'cold start');
  const worstEpisode = disturbanceEpisodes.reduce<number | null>((m, e) => (e.convergedAfterS === null ? Infinity : Math.max(m ?? 0, e.convergedAfterS)), null);
  const lastConv = convergence.series[convergence.series.length - 1];

  const corruptTracked = world.overlay.corrupt.map((c) => ({ id: c.id, receivers: c.receivers, accepted: c.accepted, forwarders: c.forwarders, maxHop: c.maxHop }));
  const totalHostSeconds = traffic.reduce((a, x) => a + x.hosts, 0);

  const metrics: Record<string, number | null> = {
    hosts_started: world.hostCount,
    hosts_live_at_end: world.liveCount(),
    steady_msgs_in_per_host_s: steadyMsgs,
    steady_msgs_in_p99: meanOf(steady.map((x) => x.msgsInP99)),
    steady_bytes_in_per_host_s: steadyBytes,
    steady_bytes_in_p99: meanOf(steady.map((x) => x.bytesInP99)),
    // What the hosts would receive if IDONTWANT saved nothing, as on loopback (simulations/README.md, Calibration).
    steady_bytes_in_without_idontwant_per_host_s: steadyBytes === null ? null : steadyBytes + (meanOf(steady.map((x) => x.savedInMean)) ?? 0),
    steady_ctrl_in_per_host_s: steadyCtrl,
    steady_all_in_per_host_s: steadyMsgs === null || steadyCtrl === null ? null : steadyMsgs + steadyCtrl,
    steady_dups_in_per_host_s: meanOf(steady.map((x) => x.dupsInMean)),
    steady_msgs_out_per_host_s: meanOf(steady.map((x) => x.msgsOutMean)),
    steady_bytes_out_per_host_s: meanOf(steady.map((x) => x.bytesOutMean)),
    peak_msgs_in_per_host_s: peakMsgs,
    peak_bytes_in_per_host_s: peakBytes,
    peak_all_in_per_host_s: peakAll,
    peak_to_steady_msgs: ratio(peakMsgs, steadyMsgs),
    // The same ratio inside the undisturbed steady window: what the load's own burstiness gives.
    steady_peak_to_mean_msgs: ratio(peakOf(steady, (x) => x.msgsInMean), steadyMsgs),
    peak_to_steady_bytes: ratio(peakBytes, steadyBytes),
    peak_to_steady_all: ratio(peakAll, steadyMsgs === null || steadyCtrl === null ? null : steadyMsgs + steadyCtrl),
    peak_msgs_in_p99: peakOf(after, (x) => x.msgsInP99),
    max_msgs_in_any_host_s: peakOf(traffic.filter((x) => x.t >= s.metrics.warmup_s), (x) => x.msgsInMax),
    bytes_in_per_host_total: totalHostSeconds > 0 ? (world.meter.totals[BYTES_IN]! / totalHostSeconds) * s.duration_s : null,
    converged_at_s: convergence.stableConvergedAtS(0),
    converged_after_disturbance_max_s: worstEpisode === Infinity ? null : worstEpisode,
    unconverged_disturbances: disturbanceEpisodes.filter((e) => e.convergedAfterS === null).length,
    final_converged_fraction: lastConv?.f ?? null,
    convergence_p50_s: q(convergence.perHostMs, 0.5, 1000),
    convergence_p99_s: q(convergence.perHostMs, 0.99, 1000),
    detection_known_p50_s: q(detection.knownMs, 0.5, 1000),
    detection_known_p99_s: q(detection.knownMs, 0.99, 1000),
    detection_failed_p50_s: q(detection.failedMs, 0.5, 1000),
    detection_failed_p99_s: q(detection.failedMs, 0.99, 1000),
    detected_fraction: detection.expectedPairs > 0 ? detection.knownPairs / detection.expectedPairs : null,
    false_suspicions: detection.falseSuspicions,
    false_failures: detection.falseFailures,
    partition_suspicions: detection.partitionSuspicions,
    refutations: detection.refutations,
    record_staleness_p50_s: q(inp.recordStaleness, 0.5, 1000),
    record_staleness_p99_s: q(inp.recordStaleness, 0.99, 1000),
    capacity_staleness_p50_s: q(inp.capacityStaleness, 0.5, 1000),
    capacity_staleness_p99_s: q(inp.capacityStaleness, 0.99, 1000),
    summary_age_p50_s: q(inp.summaryAge, 0.5, 1000),
    summary_age_p99_s: q(inp.summaryAge, 0.99, 1000),
    uplink_queue_max_bytes: inp.queueSeries.reduce((m, x) => Math.max(m, x.uplinkMaxBytes), 0),
    proto_queue_max: model.queueDepth === undefined ? null : inp.queueSeries.reduce((m, x) => Math.max(m, x.protoMax), 0),
    corrupt_injected: inp.corruptions.length,
    corrupt_decode_rejected: inp.corruptions.filter((c) => c.decodeRejected).length,
    corrupt_receivers: corruptTracked.reduce((a, c) => a + c.receivers, 0),
    corrupt_accepted: corruptTracked.reduce((a, c) => a + c.accepted, 0),
    corrupt_forwarders: corruptTracked.reduce((a, c) => a + c.forwarders, 0),
    corrupt_max_hop: corruptTracked.reduce((a, c) => Math.max(a, c.maxHop), 0),
    handler_errors: world.handlerErrorCount,
    unknown_peer_sends: world.unknownPeerSends,
    lost_copies: world.network.lostCopies,
    wall_s: inp.wallMs / 1000,
    events_per_wall_s: world.trace.events / Math.max(0.001, inp.wallMs / 1000),
    queued_events_per_wall_s: world.queue.pushed / Math.max(0.001, inp.wallMs / 1000),
    peak_rss_mb: process.resourceUsage().maxRSS / 1024,
    ...(model.finalMetrics?.() ?? {}),
  };

  let placement: RunResult['placement'] = null;
  const baselines: RunResult['baselines'] = {};
  if (load !== null && model.placement !== undefined) {
    const audit = model.placement.audit();
    // Placements per second over the time requests were being made (a 10 ms tick past the last one).
    const loadS = Number.isNaN(load.firstSubmitMs) ? 0 : (load.lastSubmitMs + 10 - load.firstSubmitMs) / 1000;
    const requests = load.answered;
    Object.assign(metrics, {
      placement_requests: load.submitted,
      placement_answered: load.answered,
      placement_placed: load.placed,
      placement_refused: load.refused,
      placement_failed: load.failed,
      placement_unanswered: load.submitted + load.duplicateSubmits - load.answered,
      placement_p50_ms: q(load.latencyMs, 0.5),
      placement_p99_ms: q(load.latencyMs, 0.99),
      placement_max_ms: load.latencyMs.count > 0 ? load.latencyMs.max : null,
      placements_per_s: loadS > 0 ? load.placed / loadS : null,
      retries_per_request: requests > 0 ? load.retries / requests : null,
      retries_per_request_at_target: load.atTargetRequests > 0 ? load.atTargetRetries / load.atTargetRequests : null,
      requests_held_at_target: load.heldRequests,
      retries_per_request_held_at_target: load.heldRequests > 0 ? load.heldRetries / load.heldRequests : null,
      refused_fraction_held_at_target: load.heldRequests > 0 ? load.heldRefused / load.heldRequests : null,
      jobs_released: load.released,
      overcommitted_hosts: audit.overcommittedHosts,
      duplicate_jobs: audit.duplicateJobs,
      duplicate_keys_from_moves: audit.duplicateKeysFromMoves ?? null,
      duplicate_submit_mismatches: load.duplicateSubmitMismatches,
      client_retries: load.clientRetries,
      utilization_reached: audit.capacityVcpus > 0 ? audit.reservedVcpus / audit.capacityVcpus : null,
      hosts_used: audit.hostsUsed,
    });
    if (s.baselines.best_fit) {
      baselines.bestFit = bestFitBaseline(audit);
      metrics['best_fit_hosts_used'] = baselines.bestFit.hostsUsed;
      metrics['packing_ratio'] = baselines.bestFit.hostsUsed > 0 ? audit.hostsUsed / baselines.bestFit.hostsUsed : null;
    }
    placement = {
      refusalCodes: Object.fromEntries(load.refusalCodes),
      duplicateSubmits: load.duplicateSubmits,
      latency: load.latencyMs.toJSON(),
    };
  }

  return {
    scenario: s.name,
    description: s.description,
    protocol: s.protocol,
    seed: s.seed,
    nodes: s.nodes,
    durationS: s.duration_s,
    config: { start: s.start, topology: world.opts.topology, network: world.opts.network, gossipsub: world.opts.gossipsub, gossip: s.gossip, gossip_profile: s.gossip_profile, placement: s.placement, hosts: s.hosts, events: s.events, load: s.load ?? null, metrics: s.metrics },
    traceHash: world.trace.hex(),
    deliveredEvents: world.trace.events,
    queuedEvents: world.queue.pushed,
    wallMs: inp.wallMs,
    metrics,
    series: { traffic, converged: convergence.series, queues: inp.queueSeries },
    distributions: {
      convergenceS: seconds(convergence.perHostMs),
      detectionKnownS: seconds(detection.knownMs),
      detectionFailedS: seconds(detection.failedMs),
      placementLatencyMs: load?.latencyMs.cdf() ?? [],
      recordStalenessS: seconds(inp.recordStaleness),
      capacityStalenessS: seconds(inp.capacityStaleness),
      summaryAgeS: seconds(inp.summaryAge),
      hopLatencyMs: hopCdf(world.overlay.hopLatencySamples),
      asksPerRequest: load === null ? [] : Array.from(load.asksHistogram),
      falseSuspicions: { suspect: detection.falseSuspicions, failed: detection.falseFailures, acrossPartition: detection.partitionSuspicions },
    },
    episodes,
    topicKinds: kinds,
    corrupt: { injections: inp.corruptions, tracked: corruptTracked },
    placement,
    baselines,
    handlerErrors: world.handlerErrors,
    assertions: [],
    passed: true,
  };
}

function hopCdf(samples: readonly number[]): CdfPoint[] {
  if (samples.length === 0) return [];
  const sorted = Float64Array.from(samples).sort();
  const out: CdfPoint[] = [];
  const step = Math.max(1, Math.floor(sorted.length / 200));
  for (let i = step - 1; i < sorted.length; i += step) out.push({ value: sorted[i]!, fraction: (i + 1) / sorted.length });
  return out;
}
