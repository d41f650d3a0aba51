import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { getHeapStatistics } from 'node:v8';
import { join, resolve } from 'node:path';
import { Command, InvalidArgumentError } from 'commander';
import { ShoalError } from '../src/core/index.ts';
import { CALIBRATION_PAYLOADS, calibrate, defaultCalibrationOptions, type CalibrationResult } from './calibration/calibrate.ts';
import { renderHtmlReport } from './report/html-report.ts';
import type { RunResult } from './run/result.ts';
import { runScenario } from './run/run-scenario.ts';
import { progressReporter } from './run/progress.ts';
import { formatAssertion, formatNumber } from './scenario/assertions.ts';
import { loadScenarioFile } from './scenario/load.ts';
import type { Scenario } from './scenario/schema.ts';
import { expandGrid, parseSweepArg, type SweepAxis } from './sweep/grid.ts';
import { formatSweepTable, runSweep } from './sweep/run-sweep.ts';

export interface SimCommandOptions {
  scenario: string;
  nodes?: number;
  seed?: number;
  out: string;
  sweep: SweepAxis[];
  set: SweepAxis[];
  durationS?: number;
  baselines: boolean;
  workers?: number;
  calibrate?: boolean;
}

function positiveInt(name: string) {
  return (v: string): number => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < 0) throw new InvalidArgumentError(`${name} must be a non-negative integer, got "${v}"`);
    return n;
  };
}

function positiveNumber(name: string) {
  return (v: string): number => {
    const n = Number(v);
    if (!Number.isFinite(n) || n <= 0) throw new InvalidArgumentError(`${name} must be a positive number, got "${v}"`);
    return n;
  };
}

/** `shoal sim`: runs a scenario file (or a sweep of it) and writes JSON and HTML reports. */
export function createSimCommand(): Command {
  return new Command('sim')
    .description('Run a simulation scenario over the real gossip and placement code (see simulations/README.md)')
    .requiredOption('--scenario <file>', 'scenario file (simulations/scenarios/*.toml)')
    .option('--nodes <n>', 'number of hosts (overrides the scenario)', positiveInt('--nodes'))
    .option('--seed <s>', 'random seed (overrides the scenario)', positiveInt('--seed'))
    .option('--duration-s <s>', 'simulated seconds (overrides the scenario)', positiveNumber('--duration-s'))
    .option('--out <dir>', 'directory for the JSON and HTML reports', 'sim-out')
    .option('--sweep <key=v1,v2,...>', 'sweep a parameter (repeatable; the grid is their product)', (v: string, prev: SweepAxis[]) => [...prev, parseSweepArg(v)], [] as SweepAxis[])
    .option('--set <key=value>', 'set one scenario option, e.g. load.rate_per_s=40000 (repeatable; validated like the file)', (v: string, prev: SweepAxis[]) => [...prev, parseSetArg(v)], [] as SweepAxis[])
    .option('--workers <n>', 'parallel sweep replicas (default: one per core)', positiveInt('--workers'))
    .option('--no-baselines', 'skip the flat-gossip baseline run')
    .option('--calibrate', 'first compare the gossipsub model with real libp2p nodes on 127.0.0.1 (deliveries, duplicates, latency)')
    .action(async (opts: SimCommandOptions) => {
      process.exitCode = await simAction(opts);
    });
}

/** Applies command-line overrides to a scenario: `--set` keys first, then the named flags. */
export function withOverrides(s: Scenario, o: { nodes?: number | undefined; seed?: number | undefined; durationS?: number | undefined; set?: readonly SweepAxis[] | undefined }): Scenario {
  const set = o.set !== undefined && o.set.length > 0 ? expandGrid(s, o.set)[0]!.scenario : s;
  return { ...set, nodes: o.nodes ?? set.nodes, seed: o.seed ?? set.seed, duration_s: o.durationS ?? set.duration_s };
}

/** `--set key=value`: a sweep axis with exactly one value. */
function parseSetArg(arg: string): SweepAxis {
  const axis = parseSweepArg(arg);
  if (axis.values.length !== 1) throw new InvalidArgumentError(`--set ${arg}: one value only (use --sweep for several)`);
  return axis;
}

const out = (line: string): void => {
  process.stdout.write(`${line}\n`);
};

/** Heap a run of `nodes` hosts needs: ~60 KB per host measured at 10k–100k, plus headroom, within the 12 GB RSS target. */
export function heapMbFor(nodes: number): number {
  return Math.min(11_264, Math.max(4_096, Math.ceil(1_536 + nodes * 0.095)));
}

/**
 * V8's default old-space limit (~4 GB) is too small for 100k hosts. When it is, run the same
 * command again in a child Node with a larger heap (once: the child is marked) and pass its
 * exit code through.
 */
function rerunWithHeap(nodes: number): number | null {
  const wantMb = heapMbFor(nodes);
  const haveMb = getHeapStatistics().heap_size_limit / (1024 * 1024);
  if (haveMb >= wantMb * 0.95 || process.env['SHOAL_SIM_CHILD'] === '1') return null;
  out(`(re-running with --max-old-space-size=${wantMb}: ${nodes} hosts need more than the ${Math.round(haveMb)} MB default heap)`);
  const r = spawnSync(process.execPath, [...process.execArgv, `--max-old-space-size=${wantMb}`, ...process.argv.slice(1)], {
    stdio: 'inherit',
    env: { ...process.env, SHOAL_SIM_CHILD: '1' },
  });
  return r.status ?? 1;
}

/** Hosts from which transparent huge pages matter: the heap is gigabytes, and every event touches a host's own memory. */
const HUGE_PAGES_HINT_FROM_HOSTS = 20_000;

/** A hint when Linux would not back the heap with huge pages (`always` ran a 10k-host run ~10% faster here). */
function hugePagesHint(nodes: number): string | null {
  if (nodes < HUGE_PAGES_HINT_FROM_HOSTS) return null;
  let mode: string;
  try {
    mode = /\[(\w+)\]/.exec(readFileSync('/sys/kernel/mm/transparent_hugepage/enabled', 'utf8'))?.[1] ?? 'unknown';
  } catch {
    return null; // not Linux, or no THP: nothing to suggest
  }
  if (mode === 'always') return null;
  return `note: transparent huge pages are '${mode}'; runs this large are faster with 'always' (echo always > /sys/kernel/mm/transparent_hugepage/enabled, as root)`;
}

export async function simAction(opts: SimCommandOptions): Promise<number> {
  const scenario = withOverrides(loadScenarioFile(resolve(opts.scenario)), opts);
  if (scenario.nodes < 2) throw new ShoalError('SIM_SCENARIO_INVALID', `--nodes must be at least 2, got ${scenario.nodes}`);
  const rerun = opts.sweep.length === 0 ? rerunWithHeap(scenario.nodes) : null;
  if (rerun !== null) return rerun;
  out(`shoal sim: scenario ${scenario.name} (${opts.scenario}), seed ${scenario.seed}, ${scenario.nodes} hosts, ${scenario.duration_s} s, protocol ${scenario.protocol}`);
  out(`config: ${JSON.stringify({ start: scenario.start, events: scenario.events, load: scenario.load ?? null, gossip: scenario.gossip, gossip_profile: scenario.gossip_profile, gossipsub: scenario.gossipsub, network: scenario.network, topology: scenario.topology, placement: scenario.placement, recovery: scenario.recovery ?? null })}`);
  const hint = hugePagesHint(scenario.nodes);
  if (hint !== null) out(hint);
  const dir = resolve(opts.out);
  mkdirSync(dir, { recursive: true });

  if (opts.sweep.length > 0) return sweepAction(scenario, opts, dir);

  let calibration: CalibrationResult[] | undefined;
  if (opts.calibrate === true) {
    calibration = [];
    for (const payloadBytes of CALIBRATION_PAYLOADS) {
      out(`calibration: ${defaultCalibrationOptions.nodes} real libp2p nodes (a process each) on 127.0.0.1 vs the gossipsub model, ${payloadBytes}-byte messages…`);
      const c = await calibrate({ ...defaultCalibrationOptions, payloadBytes });
      printCalibration(c);
      calibration.push(c);
    }
  }
  const progress = progressReporter(scenario.duration_s, out);
  let result: RunResult;
  try {
    result = runScenario(scenario, { onProgress: progress.update, log: progress.log, baselines: opts.baselines });
  } finally {
    progress.stop();
  }
  if (calibration !== undefined) result.calibration = calibration;
  const base = join(dir, `${scenario.name}-n${scenario.nodes}-s${scenario.seed}`);
  writeFileSync(`${base}.json`, JSON.stringify(result, null, 1));
  writeFileSync(`${base}.html`, await renderHtmlReport(result));
  printSummary(result);
  out(`reports: ${base}.json, ${base}.html`);
  if (!result.passed) {
    out(`FAILED: ${result.assertions.filter((a) => !a.pass).length} assertion(s) failed; reproduce with --seed ${result.seed}`);
    return 1;
  }
  return 0;
}

async function sweepAction(scenario: Scenario, opts: SimCommandOptions, dir: string): Promise<number> {
  const axes = opts.sweep;
  out(`sweep: ${axes.map((a) => `${a.key} ∈ {${a.values.join(', ')}}`).join(' × ')}`);
  const rows = await runSweep(scenario, axes, {
    ...(opts.workers !== undefined ? { workers: opts.workers } : {}),
    onDone: (row, done, total) => {
      const tag = Object.entries(row.point).map(([k, v]) => `${k}=${v}`).join(' ');
      out(`[${done}/${total}] ${tag}: ${row.result === null ? `error: ${row.error?.split('\n')[0]}` : `${row.result.passed ? 'pass' : 'FAIL'} in ${(row.result.wallMs / 1000).toFixed(1)} s (trace ${row.result.traceHash})`}`);
    },
  });
  const table = formatSweepTable(axes, rows);
  out('');
  out(table);
  const base = join(dir, `${scenario.name}-sweep-s${scenario.seed}`);
  writeFileSync(`${base}.json`, JSON.stringify({ axes, rows: rows.map((r) => ({ point: r.point, error: r.error, metrics: r.result?.metrics ?? null, assertions: r.result?.assertions ?? null, traceHash: r.result?.traceHash ?? null })) }, null, 1));
  writeFileSync(`${base}.txt`, `${table}\n`);
  out(`sweep results: ${base}.json, ${base}.txt`);
  const bad = rows.filter((r) => r.result === null || !r.result.passed).length;
  if (bad > 0) {
    out(`FAILED: ${bad} of ${rows.length} grid points failed or errored; seed ${scenario.seed}`);
    return 1;
  }
  return 0;
}

const SUMMARY_METRICS = [
  'steady_msgs_in_per_host_s',
  'steady_bytes_in_per_host_s',
  'steady_bytes_in_without_idontwant_per_host_s',
  'steady_ctrl_in_per_host_s',
  'peak_to_steady_msgs',
  'converged_at_s',
  'converged_after_disturbance_max_s',
  'detection_known_p99_s',
  'false_suspicions',
  'record_staleness_p99_s',
  'capacity_staleness_p99_s',
  'summary_age_p99_s',
  'placement_p50_ms',
  'placement_p99_ms',
  'placements_per_s',
  'retries_per_request',
  'retries_per_request_at_target',
  'retries_per_request_held_at_target',
  'packing_ratio',
  'overcommitted_hosts',
  'duplicate_jobs',
  'recovery_jobs_on_down_hosts',
  'recovery_replaced',
  'recovery_jobs_missing',
  'recovery_jobs_running_twice',
  'recovery_job_downtime_p50_s',
  'recovery_job_downtime_p99_s',
  'recovery_all_running_after_s',
  'corrupt_forwarders',
  'handler_errors',
  'events_per_wall_s',
  'wall_s',
  'peak_rss_mb',
  'bytes_in_per_host_total',
  // Federation ([federation]): see simulations/federation.
  'bursts_total',
  'bursts_placed',
  'bursts_duplicate',
  'bursts_refused',
  'bursts_failed',
  'burst_placed_p50_ms',
  'burst_placed_p99_ms',
  'burst_refused_p99_ms',
  'bursts_after_kill_placed',
  'burst_after_kill_placed_p99_ms',
  'gateway_summary_req_per_s_max',
  'gateway_summary_bytes_per_s_max',
  'gateway_burst_req_per_s_max',
  'gateway_burst_bytes_per_s_max',
  'gateway_lookup_req_per_s_max',
  'gateway_places_spread',
  'bursts_per_cluster_spread',
  'fed_duplicate_jobs',
  'burst_repeat_mismatches',
];

/** Metrics named by an error code (one per code seen), printed after SUMMARY_METRICS. */
const SUMMARY_METRIC_FAMILIES = /^(bursts_refused_|bursts_failed_|burst_cluster_refusals_)/;

function printCalibration(c: CalibrationResult): void {
  const f = (v: number | null): string => (v === null ? '—' : formatNumber(v));
  out(`                     real libp2p   model      model − real`);
  out(`  delivery ratio     ${f(c.real.deliveryRatio).padEnd(13)} ${f(c.model.deliveryRatio).padEnd(10)} ${f(c.difference.deliveryRatio)}`);
  out(`  dups / delivery    ${f(c.real.duplicatesPerDelivery).padEnd(13)} ${f(c.model.duplicatesPerDelivery).padEnd(10)} ${f(c.difference.duplicatesPerDelivery)}`);
  out(`  IDONTWANT skips    ${f(c.real.idontwantSkippedFraction).padEnd(13)} ${f(c.model.idontwantSkippedFraction).padEnd(10)} ${f(c.difference.idontwantSkippedFraction)}`);
  out(`  latency p50 ms     ${f(c.real.latencyMs.p50).padEnd(13)} ${f(c.model.latencyMs.p50).padEnd(10)} ${f(c.difference.latencyP50Ms)}`);
  out(`  latency p99 ms     ${f(c.real.latencyMs.p99).padEnd(13)} ${f(c.model.latencyMs.p99).padEnd(10)} ${f(c.difference.latencyP99Ms)}`);
}

function printSummary(r: RunResult): void {
  out(`trace hash ${r.traceHash}, ${r.deliveredEvents} delivered events`);
  for (const k of SUMMARY_METRICS) {
    const v = r.metrics[k];
    if (v !== undefined && v !== null) out(`  ${k.padEnd(36)} ${formatNumber(v)}`);
  }
  for (const [k, v] of Object.entries(r.metrics)) if (SUMMARY_METRIC_FAMILIES.test(k) && v !== null) out(`  ${k.padEnd(36)} ${formatNumber(v)}`);
  if (r.baselines.flat) out(`  flat gossip at ${r.nodes} hosts (extrapolated)   ${formatNumber(r.baselines.flat.extrapolated.msgsInPerHostS)} msgs/s, ${formatNumber(r.baselines.flat.extrapolated.bytesInPerHostS)} B/s per host`);
  for (const a of r.assertions) out(`  ${formatAssertion(a)}`);
}
