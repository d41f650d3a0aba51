import { spawn } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { stringify as toToml } from 'smol-toml';
import { ShoalError } from '../src/core/index.ts';
import { calibrate, defaultCalibrationOptions, type CalibrationResult } from '../simulations/index.ts';
import { mean } from './stats.ts';

/**
 * The simulator's side of the calibration: the real testbed's scenarios (same N, same
 * windows, same churn) as scenario files, run through the simulator's own command
 * (`node simulations/main.ts`), over a few seeds, averaged. Every host sits in one rack, as
 * every agent of the testbed sits on one bridge.
 */

export interface SimCalibrationOptions {
  nodes: number;
  /** First seed; seeds are seed, seed+1, … */
  seed: number;
  /** Runs per scenario: small N gives noisy figures, and each run takes about a second. */
  seeds: number;
  gossipProfile: 'lan' | 'wan' | 'large';
  idleWindowS: number;
  churnWindowS: number;
  churnIntervalS: number;
  churnDownS: number;
  /** Simulated seconds before the idle window, as the real cluster idles after forming. */
  warmupS: number;
  /** Wall-time limit of one simulator run. */
  runTimeoutMs: number;
  /** Also compare the simulator's gossipsub model with real libp2p nodes on 127.0.0.1 (its --calibrate). */
  overlay: boolean;
  /** Where the scenario files go (kept in the repository: their content follows from the options alone). */
  scenarioDir: string;
  /** Where the simulator's JSON and HTML reports go. */
  outDir: string;
}

export interface SimFigures {
  seeds: number[];
  /** Cold start through one seed host: seconds until all views are correct, and the per-host median. */
  formationAllS: number | null;
  formationP50S: number | null;
  /** Idle window, per host per second. */
  idle: SimTraffic;
  churn: SimTraffic;
  detectionKnownP50S: number | null;
  detectionKnownP99S: number | null;
  detectionFailedP50S: number | null;
  detectionFailedP99S: number | null;
  /** The gossipsub model against real libp2p gossipsub (deliveries, duplicates, latency), or null when not run. */
  overlay: Pick<CalibrationResult, 'real' | 'model'> & { nodes: number; messages: number } | null;
  /** The commands that produced these figures, for the report: formation, idle + crash, churn, overlay. */
  commands: string[];
}

export interface SimTraffic {
  /** Data messages received including gossipsub duplicates and direct messages. */
  msgsInPerS: number | null;
  /** The same without duplicates: what the agent's own counters count. */
  uniqueMsgsInPerS: number | null;
  /** gossipsub control RPCs received. */
  ctrlInPerS: number | null;
  /** Bytes received, modelled framing and control included. */
  bytesInPerS: number | null;
}

interface SimJson {
  metrics: Record<string, number | null>;
  series: { traffic: { t: number; hosts: number; msgsInMean: number; dupsInMean: number; ctrlInMean: number; bytesInMean: number }[] };
}

const REPO = resolve(import.meta.dirname, '..');

function baseScenario(o: SimCalibrationOptions, name: string, description: string): Record<string, unknown> {
  return {
    name,
    description,
    nodes: o.nodes,
    seed: o.seed,
    gossip_profile: o.gossipProfile,
    topology: { regions: 1, zones_per_region: 1, racks_per_zone: 1 },
    baselines: { flat_gossip: false, best_fit: false },
  };
}

/** The three scenario files, as objects (exported for tests and for the report's commands). */
export function calibrationScenarios(o: SimCalibrationOptions): { formation: Record<string, unknown>; idleCrash: Record<string, unknown>; churn: Record<string, unknown>; windows: { idle: [number, number]; churn: [number, number]; crashAtS: number } } {
  const idle: [number, number] = [o.warmupS, o.warmupS + o.idleWindowS];
  const crashAtS = idle[1];
  const churnAtS = o.warmupS;
  const churn: [number, number] = [churnAtS, churnAtS + o.churnWindowS];
  return {
    windows: { idle, churn, crashAtS },
    formation: {
      ...baseScenario(o, 'bench-formation', `${o.nodes} hosts boot at once and join through one seed (the testbed's formation)`),
      duration_s: 30,
      start: { mode: 'cold', join_rate_per_s: 1000, seeds: 1 },
      metrics: { warmup_s: 0, sample_hosts: o.nodes, steady_window_s: [20, 30] },
    },
    idleCrash: {
      ...baseScenario(o, 'bench-idle-crash', `idle for ${o.idleWindowS} s after a ${o.warmupS} s warm-up, then one host crashes (the testbed's kill -9)`),
      duration_s: crashAtS + 30,
      start: { mode: 'warm', spread_s: 1, seeds: 1 },
      metrics: { warmup_s: o.warmupS, sample_hosts: o.nodes, steady_window_s: idle },
      events: [{ at_s: crashAtS, action: 'crash-fraction', fraction: 1 / o.nodes, by: 'random' }],
    },
    churn: {
      ...baseScenario(o, 'bench-churn', `a crash every ${o.churnIntervalS} s, back after ~${o.churnDownS} s, for ${o.churnWindowS} s (the testbed's churn)`),
      duration_s: churn[1] + 10,
      start: { mode: 'warm', spread_s: 1, seeds: 1 },
      metrics: { warmup_s: o.warmupS, sample_hosts: o.nodes, steady_window_s: [Math.max(0, o.warmupS - 10), o.warmupS] },
      events: [{ at_s: churnAtS, action: 'churn', rate_per_s: 1 / o.churnIntervalS, duration_s: o.churnWindowS - o.churnDownS, down_s: o.churnDownS, mode: 'crash' }],
    },
  };
}

function runSim(file: string, outDir: string, seed: number, timeoutMs: number): Promise<void> {
  return new Promise((resolvePromise, reject) => {
    const args = [join(REPO, 'simulations/main.ts'), '--scenario', file, '--out', outDir, '--seed', String(seed), '--no-baselines'];
    const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'], cwd: REPO });
    let tail = '';
    const keep = (b: Buffer): void => {
      tail = (tail + b.toString()).slice(-2000);
    };
    child.stdout.on('data', keep);
    child.stderr.on('data', keep);
    const t = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.once('error', (err) => {
      clearTimeout(t);
      reject(new ShoalError('BENCH_SIM_FAILED', `simulator could not start: ${err.message}`, {}, { cause: err }));
    });
    child.once('exit', (code, signal) => {
      clearTimeout(t);
      // Exit 1 also means "an assertion failed"; these scenarios have none, so it is an error.
      if (code === 0) resolvePromise();
      else reject(new ShoalError('BENCH_SIM_FAILED', `simulator on ${file} seed ${seed} ${signal ? `killed (${signal}, limit ${timeoutMs} ms)` : `exited ${code}`}: ${tail.trim().split('\n').slice(-3).join(' | ')}`, { file, seed }));
    });
  });
}

function windowMean(r: SimJson, [from, to]: [number, number], f: (x: SimJson['series']['traffic'][0]) => number): number | null {
  return mean(r.series.traffic.filter((x) => x.t >= from && x.t < to && x.hosts > 0).map(f));
}

function avg(values: (number | null | undefined)[]): number | null {
  const xs = values.filter((v): v is number => typeof v === 'number' && Number.isFinite(v));
  return mean(xs);
}

export async function runSimCalibration(o: SimCalibrationOptions, onStep?: (line: string) => void): Promise<SimFigures> {
  const sc = calibrationScenarios(o);
  mkdirSync(o.outDir, { recursive: true });
  mkdirSync(o.scenarioDir, { recursive: true });
  const files: Record<'formation' | 'idleCrash' | 'churn', string> = { formation: '', idleCrash: '', churn: '' };
  for (const key of ['formation', 'idleCrash', 'churn'] as const) {
    const file = join(o.scenarioDir, `${(sc[key] as { name: string }).name}.toml`);
    writeFileSync(file, `# Written by bench/sim-calibration.ts from the bench's options (npm run bench); regenerated on every run.\n${toToml(sc[key])}\n`);
    files[key] = file;
  }
  const seeds = Array.from({ length: o.seeds }, (_, k) => o.seed + k);
  const results: Record<'formation' | 'idleCrash' | 'churn', SimJson[]> = { formation: [], idleCrash: [], churn: [] };
  for (const key of ['formation', 'idleCrash', 'churn'] as const) {
    const name = (sc[key] as { name: string }).name;
    for (const seed of seeds) {
      onStep?.(`sim ${name} seed ${seed}`);
      await runSim(files[key], o.outDir, seed, o.runTimeoutMs);
      results[key].push(JSON.parse(readFileSync(join(o.outDir, `${name}-n${o.nodes}-s${seed}.json`), 'utf8')) as SimJson);
    }
  }
  let overlay: SimFigures['overlay'] = null;
  if (o.overlay) {
    onStep?.(`gossipsub model vs ${defaultCalibrationOptions.nodes} real libp2p nodes on 127.0.0.1`);
    const c = await calibrate(defaultCalibrationOptions);
    overlay = { real: c.real, model: c.model, nodes: defaultCalibrationOptions.nodes, messages: defaultCalibrationOptions.messages };
  }
  const traffic = (runs: SimJson[], win: [number, number]): SimTraffic => ({
    msgsInPerS: avg(runs.map((r) => windowMean(r, win, (x) => x.msgsInMean))),
    uniqueMsgsInPerS: avg(runs.map((r) => windowMean(r, win, (x) => x.msgsInMean - x.dupsInMean))),
    ctrlInPerS: avg(runs.map((r) => windowMean(r, win, (x) => x.ctrlInMean))),
    bytesInPerS: avg(runs.map((r) => windowMean(r, win, (x) => x.bytesInMean))),
  });
  const m = (runs: SimJson[], key: string): number | null => avg(runs.map((r) => r.metrics[key]));
  const rel = (p: string): string => relative(REPO, p);
  return {
    seeds,
    formationAllS: m(results.formation, 'converged_at_s'),
    formationP50S: m(results.formation, 'convergence_p50_s'),
    idle: traffic(results.idleCrash, sc.windows.idle),
    churn: traffic(results.churn, sc.windows.churn),
    detectionKnownP50S: m(results.idleCrash, 'detection_known_p50_s'),
    detectionKnownP99S: m(results.idleCrash, 'detection_known_p99_s'),
    detectionFailedP50S: m(results.idleCrash, 'detection_failed_p50_s'),
    detectionFailedP99S: m(results.idleCrash, 'detection_failed_p99_s'),
    overlay,
    commands: [
      ...(['formation', 'idleCrash', 'churn'] as const).map((k) => `for s in ${seeds.join(' ')}; do node simulations/main.ts --scenario ${rel(files[k])} --seed $s --no-baselines --out sim-out; done`),
      `node simulations/main.ts --scenario ${rel(files.formation)} --calibrate --no-baselines --out sim-out`,
    ],
  };
}
