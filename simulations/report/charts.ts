import type { TopLevelSpec } from 'vega-lite';
import type { CdfPoint } from '../metrics/histogram.ts';
import type { RunResult } from '../run/result.ts';

/**
 * The report's charts as vega-lite specs, built from a RunResult. Each spec carries its data
 * inline, so rendering needs no network and the JSON alone can rebuild every chart.
 */
export interface Chart {
  readonly id: string;
  readonly title: string;
  readonly spec: TopLevelSpec;
}

const WIDTH = 620;
const HEIGHT = 220;

function lines(title: string, rows: { x: number; series: string; y: number }[], xTitle: string, yTitle: string, opts: { logY?: boolean } = {}): TopLevelSpec {
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title,
    width: WIDTH,
    height: HEIGHT,
    data: { values: rows },
    mark: { type: 'line', interpolate: 'step-after', strokeWidth: 1.5 },
    encoding: {
      x: { field: 'x', type: 'quantitative', title: xTitle },
      y: { field: 'y', type: 'quantitative', title: yTitle, scale: opts.logY ? { type: 'symlog' } : {} },
      color: { field: 'series', type: 'nominal', title: null },
    },
  };
}

function cdf(title: string, series: { name: string; points: readonly CdfPoint[] }[], xTitle: string, opts: { logX?: boolean; rule?: { x: number; label: string } } = {}): TopLevelSpec {
  const rows = series.flatMap((s) => s.points.map((p) => ({ x: p.value, series: s.name, y: p.fraction })));
  const base = {
    mark: { type: 'line' as const, interpolate: 'step-after' as const, strokeWidth: 1.5 },
    encoding: {
      x: { field: 'x', type: 'quantitative' as const, title: xTitle, scale: opts.logX ? { type: 'log' as const } : {} },
      y: { field: 'y', type: 'quantitative' as const, title: 'fraction', scale: { domain: [0, 1] } },
      color: { field: 'series', type: 'nominal' as const, title: null },
    },
  };
  if (opts.rule === undefined) {
    return { $schema: 'https://vega.github.io/schema/vega-lite/v6.json', title, width: WIDTH, height: HEIGHT, data: { values: rows }, ...base };
  }
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title,
    width: WIDTH,
    height: HEIGHT,
    layer: [
      { data: { values: rows }, ...base },
      {
        data: { values: [{ x: opts.rule.x, label: opts.rule.label }] },
        mark: { type: 'rule', color: '#c00', strokeDash: [4, 3] },
        encoding: { x: { field: 'x', type: 'quantitative' } },
      },
      {
        data: { values: [{ x: opts.rule.x, label: opts.rule.label }] },
        mark: { type: 'text', color: '#c00', align: 'left', dx: 4, y: 8 },
        encoding: { x: { field: 'x', type: 'quantitative' }, text: { field: 'label' } },
      },
    ],
  };
}

function bars(title: string, rows: { label: string; value: number; group?: string }[], yTitle: string): TopLevelSpec {
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title,
    width: WIDTH,
    height: HEIGHT,
    data: { values: rows },
    mark: { type: 'bar' },
    encoding: {
      x: { field: 'label', type: 'nominal', title: null, sort: null, axis: { labelAngle: 0 } },
      y: { field: 'value', type: 'quantitative', title: yTitle },
      color: { field: 'group', type: 'nominal', title: null },
    },
  };
}

export function buildCharts(r: RunResult): Chart[] {
  const out: Chart[] = [];
  const tr = r.series.traffic;
  out.push({
    id: 'msgs',
    title: 'Messages received per host per second',
    spec: lines(
      'Messages received per host per second (data incl. duplicates; control RPCs apart)',
      tr.flatMap((x) => [
        { x: x.t, series: 'mean', y: x.msgsInMean },
        { x: x.t, series: 'p99', y: x.msgsInP99 },
        { x: x.t, series: 'max', y: x.msgsInMax },
        { x: x.t, series: 'control RPCs (mean)', y: x.ctrlInMean },
      ]),
      'simulated time (s)',
      'msgs / host / s',
      { logY: true },
    ),
  });
  out.push({
    id: 'bytes',
    title: 'Bytes received per host per second',
    spec: lines(
      'Bytes received per host per second (all traffic)',
      tr.flatMap((x) => [
        { x: x.t, series: 'mean', y: x.bytesInMean },
        { x: x.t, series: 'p99', y: x.bytesInP99 },
        { x: x.t, series: 'mean, had IDONTWANT saved nothing', y: x.bytesInMean + x.savedInMean },
      ]),
      'simulated time (s)',
      'bytes / host / s',
      { logY: true },
    ),
  });
  out.push({
    id: 'queues',
    title: 'Queue depths',
    spec: lines(
      'Queue depths over sampled hosts: uplink backlog (bytes) and the protocol’s event/relay queues (messages)',
      r.series.queues.flatMap((x) => [
        { x: x.t, series: 'uplink max (bytes)', y: x.uplinkMaxBytes },
        { x: x.t, series: 'uplink p99 (bytes)', y: x.uplinkP99Bytes },
        { x: x.t, series: 'protocol queue max (msgs)', y: x.protoMax },
      ]),
      'simulated time (s)',
      'depth',
      { logY: true },
    ),
  });
  out.push({
    id: 'converged',
    title: 'Hosts with a correct view',
    spec: lines('Sampled live hosts whose view matches the truth', r.series.converged.map((p) => ({ x: p.t, series: 'converged', y: p.f })), 'simulated time (s)', 'fraction'),
  });
  if (r.distributions.convergenceS.length > 0) {
    out.push({ id: 'convergence-cdf', title: 'Convergence CDF', spec: cdf('Time from a disturbance until a host’s view is right again', [{ name: 'per host', points: r.distributions.convergenceS }], 'seconds', { rule: { x: 30, label: 'target 30 s' } }) });
  }
  if (r.distributions.detectionKnownS.length > 0) {
    out.push({
      id: 'detection-cdf',
      title: 'Failure detection latency',
      spec: cdf(
        'Crash → each cell mate sees it (suspect or failed) / marks it failed',
        [
          { name: 'known (suspect or failed)', points: r.distributions.detectionKnownS },
          { name: 'failed', points: r.distributions.detectionFailedS },
        ],
        'seconds',
        { rule: { x: 5, label: 'target 5 s p99' } },
      ),
    });
  }
  const fs = r.distributions.falseSuspicions;
  out.push({
    id: 'false-suspicions',
    title: 'False suspicions',
    spec: bars(
      'Suspicions of hosts that were alive',
      [
        { label: 'suspected', value: fs.suspect, group: 'reachable' },
        { label: 'declared failed', value: fs.failed, group: 'reachable' },
        { label: 'across a partition', value: fs.acrossPartition, group: 'partitioned' },
      ],
      'events',
    ),
  });
  if (r.distributions.placementLatencyMs.length > 0) {
    out.push({ id: 'placement-cdf', title: 'Placement latency', spec: cdf('Placement latency: submit at the entry host → answer', [{ name: 'latency', points: r.distributions.placementLatencyMs }], 'ms (virtual)', { logX: true, rule: { x: 250, label: 'p99 target 250 ms' } }) });
    const asks = r.distributions.asksPerRequest;
    out.push({
      id: 'retries',
      title: 'Retries per placement',
      spec: bars(
        'Requests by retries (asks beyond the first)',
        asks.slice(1).map((n, k) => ({ label: String(k), value: n, group: 'requests' })),
        'requests',
      ),
    });
  }
  const bf = r.baselines.bestFit;
  if (bf !== undefined) {
    out.push({
      id: 'packing',
      title: 'Packing against best-fit',
      spec: bars(
        `Hosts used for the same jobs (ratio ${((r.metrics['packing_ratio'] ?? 0) as number).toFixed(3)}, target ≤ 1.05)`,
        [
          { label: 'Shoal', value: r.metrics['hosts_used'] ?? 0, group: 'Shoal' },
          { label: 'central best-fit (arrival order)', value: bf.hostsUsed, group: 'baseline' },
          { label: 'best-fit decreasing (offline)', value: bf.hostsUsedDecreasing, group: 'baseline' },
        ],
        'hosts with ≥ 1 job',
      ),
    });
  }
  if (r.distributions.recordStalenessS.length > 0 || r.distributions.summaryAgeS.length > 0) {
    out.push({
      id: 'freshness',
      title: 'Freshness',
      spec: cdf(
        'Freshness: how long a cell mate’s record copy has been outdated; age of cell summaries',
        [
          { name: 'record staleness (own cell)', points: r.distributions.recordStalenessS.map((p) => ({ value: Math.max(p.value, 0.001), fraction: p.fraction })) },
          { name: 'free capacity wrong by > threshold (own cell)', points: r.distributions.capacityStalenessS.map((p) => ({ value: Math.max(p.value, 0.001), fraction: p.fraction })) },
          { name: 'summary age (other cells)', points: r.distributions.summaryAgeS },
        ],
        'seconds',
        { logX: true, rule: { x: 3, label: '3 s' } },
      ),
    });
  }
  if (r.distributions.hopLatencyMs.length > 0) {
    out.push({ id: 'hops', title: 'Hop latency', spec: cdf('Gossipsub model: latency of first copies per hop', [{ name: 'hop', points: r.distributions.hopLatencyMs }], 'ms', { logX: true }) });
  }
  const flat = r.baselines.flat;
  if (flat !== undefined) {
    const shoalMsgs = (r.metrics['steady_msgs_in_per_host_s'] ?? 0) as number;
    out.push({
      id: 'baseline-flat',
      title: 'Shoal against flat gossip',
      spec: bars(
        `Steady messages received per host per second at ${r.nodes} hosts`,
        [
          ...flat.measured.map((m) => ({ label: `flat, ${m.nodes} hosts (measured)`, value: m.msgsInPerHostS, group: 'flat gossip' })),
          { label: `flat, ${flat.extrapolated.nodes} hosts (extrapolated)`, value: flat.extrapolated.msgsInPerHostS, group: 'flat gossip' },
          { label: `Shoal, ${r.nodes} hosts`, value: shoalMsgs, group: 'Shoal' },
        ],
        'msgs / host / s',
      ),
    });
  }
  return out;
}
