import { ShoalError } from '../src/core/index.ts';

/** What `npm run bench` does, and how long it may take. */

export const BENCH_SIDES = ['serf', 'shoal', 'sim'] as const;
export type BenchSide = (typeof BENCH_SIDES)[number];

export interface BenchOptions {
  /** Agents per side (Shoal and Serf each run this many, one after the other). */
  agents: number;
  /** Shoal agents kept for the placement figures; issue 5 asks for 20. */
  placementAgents: number;
  /** Wall-clock budget of the whole run; phases that no longer fit are skipped and say so. */
  budgetS: number;
  /** Which sides run. */
  only: BenchSide[];
  idleWindowS: number;
  churnWindowS: number;
  churnIntervalS: number;
  churnDownS: number;
  /** How the join is triggered: `api` asks running agents to join agent 0 (join convergence alone); `flag` starts them with agent 0 on the command line (process start included). */
  joinMode: 'api' | 'flag';
  /** How often member lists are polled while waiting for a view to change. */
  pollIntervalMs: number;
  /** Longest wait for a view to converge or a failure to be detected. */
  viewTimeoutS: number;
  /** Agents started at once (each Node agent costs ~1 s of CPU to start). */
  startConcurrency: number;
  placementSequentialRequests: number;
  placementConcurrentRequests: number;
  placementConcurrency: number;
  placementMaxDurationS: number;
  /** First simulator seed, and how many seeds each simulated scenario runs. */
  seed: number;
  simSeeds: number;
  /** Simulated warm-up before the idle window. */
  simWarmupS: number;
  /** Also calibrate the simulator's gossipsub model against real libp2p nodes (about a minute). */
  overlayCalibration: boolean;
  /** Where RESULTS.md goes. */
  resultsFile: string;
  /** Scratch directory for agent data, logs and simulator reports. */
  workDir: string | null;
  /** Keep the scratch directory after the run (it is kept anyway when something failed). */
  keepWorkDir: boolean;
}

export const defaultBenchOptions: BenchOptions = {
  // 32 agents: issue 9's default, a full cell for Shoal (target 48) and a small LAN for Serf.
  agents: 32,
  // 20 agents: issue 5's placement figure.
  placementAgents: 20,
  // 840 s: the whole bench, both sides and the simulator, finishes within 15 minutes on 2 cores.
  budgetS: 840,
  only: ['serf', 'shoal', 'sim'],
  // 60 s: 60 Serf gossip rounds of 200 ms ×5, and a full Shoal record heartbeat (60 s).
  idleWindowS: 60,
  // 60 s: twelve kill -9 / restart cycles at one every 5 s.
  churnWindowS: 60,
  // 5 s: a crash every 5 s in 32 agents is far harsher than real fleets, to show the cost of change.
  churnIntervalS: 5,
  // 5 s: longer than either agent's restart, shorter than Serf's suspicion timeout (~6 s).
  churnDownS: 5,
  // api: isolates the protocol's join from process start, which differs a lot between Go and Node.
  joinMode: 'api',
  // 100 ms: the resolution of every convergence and detection time.
  pollIntervalMs: 100,
  // 30 s: three times Serf's detection at 32 agents (~10 s), six times Shoal's 5 s target.
  viewTimeoutS: 30,
  // 2: one per core here; more at once only lengthens each start (a Node agent needs ~2-3 s of CPU to start).
  startConcurrency: 2,
  // 100 one at a time: latency without queueing.
  placementSequentialRequests: 100,
  // 400 with 16 in flight: throughput through one socket.
  placementConcurrentRequests: 400,
  placementConcurrency: 16,
  // 60 s: bounds each placement run whatever the latency.
  placementMaxDurationS: 60,
  seed: 1,
  // 3 seeds: at 32 hosts a single simulated crash or churn run is noisy; each run takes ~1 s.
  simSeeds: 3,
  // 40 s: the simulated cluster is formed and its meshes built before the idle window.
  simWarmupS: 40,
  // true: issue 6 asks for deliveries, duplicates and hop latency against real gossipsub in the same run.
  overlayCalibration: true,
  resultsFile: 'bench/RESULTS.md',
  workDir: null,
  keepWorkDir: false,
};

export function validateBenchOptions(o: BenchOptions): void {
  const bad = (field: string, why: string): never => {
    throw new ShoalError('BENCH_BAD_OPTIONS', `--${field.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}: ${why}`, { field });
  };
  const int = (field: keyof BenchOptions, min: number, max: number): void => {
    const v = o[field] as number;
    if (!Number.isInteger(v) || v < min || v > max) bad(field, `must be an integer in [${min}, ${max}], got ${v}`);
  };
  int('agents', 3, 1000);
  int('placementAgents', 2, 1000);
  if (o.only.includes('shoal') && o.placementAgents > o.agents) bad('placementAgents', `must not exceed --agents (${o.agents}), got ${o.placementAgents}`);
  int('budgetS', 60, 24 * 3600);
  int('idleWindowS', 5, 3600);
  int('churnWindowS', 5, 3600);
  int('churnIntervalS', 1, 600);
  int('churnDownS', 1, 600);
  if (o.churnDownS >= o.churnWindowS) bad('churnDownS', `must be shorter than the churn window (${o.churnWindowS} s)`);
  int('pollIntervalMs', 10, 10_000);
  int('viewTimeoutS', 5, 600);
  int('startConcurrency', 1, 64);
  int('placementSequentialRequests', 0, 100_000);
  int('placementConcurrentRequests', 0, 100_000);
  int('placementConcurrency', 1, 1024);
  int('placementMaxDurationS', 1, 3600);
  int('seed', 0, 2 ** 31);
  int('simSeeds', 1, 20);
  int('simWarmupS', 10, 600);
  if (o.joinMode !== 'api' && o.joinMode !== 'flag') bad('joinMode', `must be api or flag, got "${String(o.joinMode)}"`);
  if (o.only.length === 0) bad('only', `name at least one of ${BENCH_SIDES.join(', ')}`);
  for (const s of o.only) if (!(BENCH_SIDES as readonly string[]).includes(s)) bad('only', `unknown side "${s}" (expected ${BENCH_SIDES.join(', ')})`);
}
