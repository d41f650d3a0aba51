import type { AgentCluster } from './cluster.ts';
import type { Testbed } from './netns.ts';
import type { BenchOptions } from './options.ts';
import { runPlacementLoad, type PlacementLoadResult } from './placement-load.ts';
import {
  churn,
  detectFailure,
  formCluster,
  measureWindow,
  range,
  rejoin,
  statusOf,
  waitConverged,
  waitForViews,
  type ChurnLog,
  type DetectionResult,
  type FormationResult,
  type RejoinResult,
  type ScenarioTiming,
  type ViewWaitResult,
  type WindowResult,
} from './scenarios.ts';
import type { ShoalCluster } from './shoal-cluster.ts';

/** One side's scenarios (Serf or Shoal), in order, each skipped when the budget is spent. */

export interface PlacementResult {
  agents: number;
  /** After SIGTERM of the agents beyond `agents`: until agent 0 lists them as not alive. */
  leave: ViewWaitResult | null;
  sequential: PlacementLoadResult | null;
  concurrent: PlacementLoadResult | null;
}

export interface SideResult {
  kind: string;
  agents: number;
  formation: FormationResult | null;
  idle: WindowResult | null;
  detection: DetectionResult | null;
  rejoin: RejoinResult | null;
  churn: (WindowResult & { log: ChurnLog }) | null;
  reconverge: ViewWaitResult | null;
  placement: PlacementResult | null;
  /** Phases that failed or were skipped, with why. */
  problems: string[];
}

export interface Budget {
  /** Seconds left before the run's deadline. */
  remainingS(): number;
}

export interface SideHooks {
  phase(name: string): void;
  log(line: string): void;
  signal: AbortSignal;
}

export function emptySide(kind: string, agents: number): SideResult {
  return { kind, agents, formation: null, idle: null, detection: null, rejoin: null, churn: null, reconverge: null, placement: null, problems: [] };
}

/** Runs `fn` as a phase unless fewer than `needS` seconds are left; failures are recorded, not thrown (except an abort). */
async function phase<T>(side: SideResult, budget: Budget, hooks: SideHooks, name: string, needS: number, fn: () => Promise<T>): Promise<T | null> {
  hooks.signal.throwIfAborted();
  if (budget.remainingS() < needS) {
    side.problems.push(`${name}: skipped, ${Math.round(budget.remainingS())} s of budget left and it needs about ${Math.round(needS)} s`);
    hooks.log(`${side.kind}: ${name} skipped (budget)`);
    return null;
  }
  hooks.phase(`${side.kind}: ${name}`);
  try {
    return await fn();
  } catch (err) {
    if (hooks.signal.aborted) throw err;
    const msg = (err as Error).message;
    side.problems.push(`${name}: ${msg}`);
    hooks.log(`${side.kind}: ${name} FAILED: ${msg}`);
    return null;
  }
}

export async function runSide(cluster: AgentCluster, testbed: Testbed, o: BenchOptions, budget: Budget, hooks: SideHooks): Promise<SideResult> {
  const side = emptySide(cluster.kind, cluster.size);
  const timing: ScenarioTiming = { pollIntervalMs: o.pollIntervalMs, timeoutMs: o.viewTimeoutS * 1000, signal: hooks.signal };
  const n = cluster.size;

  side.formation = await phase(side, budget, hooks, 'formation', o.viewTimeoutS + 30, () => formCluster(cluster, { ...timing, startConcurrency: o.startConcurrency, mode: o.joinMode }));
  if (side.formation === null) return side;
  hooks.log(`${cluster.kind}: join by ${side.formation.mode}: agents started in ${side.formation.startAllS.toFixed(1)} s; all list ${n} alive after ${fmt(side.formation.allS)} s (${side.formation.satisfied}/${side.formation.observers})`);
  if (side.formation.joinErrors.length > 0) {
    side.problems.push(`formation: ${side.formation.joinErrors.length} join call(s) failed, e.g. ${side.formation.joinErrors[0]}`);
  }
  if (!side.formation.complete) side.problems.push(`formation: only ${side.formation.satisfied} of ${n} agents listed all ${n} alive within ${o.viewTimeoutS} s`);

  side.idle = await phase(side, budget, hooks, `idle ${o.idleWindowS} s`, o.idleWindowS + 10, () => measureWindow(cluster, testbed, o.idleWindowS, undefined, hooks.signal));
  if (side.idle) hooks.log(`${cluster.kind}: idle rx ${fmt(side.idle.rxBytesPerS.mean, 0)} B/s, ${fmt(side.idle.rxPacketsPerS.mean, 1)} pkt/s, CPU ${fmt(side.idle.cpuPercent.mean, 2)} %, RSS ${fmt(side.idle.rssMb.max, 0)} MB per agent`);

  const victim = n - 1;
  side.detection = await phase(side, budget, hooks, 'kill -9 detection', o.viewTimeoutS + 10, () => detectFailure(cluster, victim, timing));
  if (side.detection) hooks.log(`${cluster.kind}: kill -9 of ${side.detection.victim} known by all after ${fmt(side.detection.known.allS)} s, failed at all after ${fmt(side.detection.failed.allS)} s`);

  if (!cluster.isRunning(victim)) {
    side.rejoin = await phase(side, budget, hooks, 'restart and rejoin', o.viewTimeoutS + 30, () => rejoin(cluster, victim, timing));
    if (side.rejoin) hooks.log(`${cluster.kind}: restarted agent up in ${fmt(side.rejoin.startS)} s, alive at all after ${fmt(side.rejoin.knownAlive.allS)} s from spawn`);
  }

  const pool = range(n).slice(1).reverse();
  const plan = churn(cluster, { pool, intervalS: o.churnIntervalS, downS: o.churnDownS }, o.churnWindowS);
  const churnWindow = await phase(side, budget, hooks, `churn ${o.churnWindowS} s`, o.churnWindowS + 30, () => measureWindow(cluster, testbed, o.churnWindowS, plan.during, hooks.signal));
  if (churnWindow) {
    side.churn = { ...churnWindow, log: plan.log };
    hooks.log(`${cluster.kind}: churn ${plan.log.kills} kills, ${plan.log.restarts} restarts; rx ${fmt(churnWindow.rxBytesPerS.mean, 0)} B/s, ${fmt(churnWindow.rxPacketsPerS.mean, 1)} pkt/s per agent`);
    for (const f of plan.log.restartFailures) side.problems.push(`churn restart: ${f}`);
    side.reconverge = await phase(side, budget, hooks, 'reconvergence after churn', o.viewTimeoutS + 5, () => waitConverged(cluster, timing));
    if (side.reconverge) hooks.log(`${cluster.kind}: reconverged ${fmt(side.reconverge.allS)} s after the churn window`);
  }
  return side;
}

/**
 * Shoal only: shrink to `o.placementAgents` by SIGTERM (a graceful leave), then place jobs
 * through agent 0's socket, first one at a time, then with `placementConcurrency` in flight.
 */
export async function runPlacement(cluster: ShoalCluster, side: SideResult, o: BenchOptions, budget: Budget, hooks: SideHooks): Promise<void> {
  const timing: ScenarioTiming = { pollIntervalMs: o.pollIntervalMs, timeoutMs: o.viewTimeoutS * 1000, signal: hooks.signal };
  const keep = o.placementAgents;
  const result: PlacementResult = { agents: keep, leave: null, sequential: null, concurrent: null };
  side.placement = result;
  const leaving = range(cluster.size).filter((i) => i >= keep && cluster.isRunning(i));
  result.leave = await phase(side, budget, hooks, `shrink to ${keep} agents`, o.viewTimeoutS + 15, async () => {
    const t0 = performance.now();
    await Promise.all(leaving.map((i) => cluster.stop(i, 10_000)));
    const names = leaving.map((i) => cluster.agentName(i));
    const r = await waitForViews(cluster, [0], (v) => names.every((nm) => statusOf(v, nm) !== 'alive'), t0, timing);
    await waitConverged(cluster, timing);
    return r;
  });
  const runId = `bench-${Date.now().toString(36)}`;
  const load = (label: string, requests: number, concurrency: number): Promise<PlacementLoadResult | null> =>
    phase(side, budget, hooks, `placement ${label}`, o.placementMaxDurationS + 5, () =>
      runPlacementLoad(cluster.api(0), { requests, concurrency, maxDurationMs: o.placementMaxDurationS * 1000, vcpus: 1, memoryMiB: 512, policy: 'binpack', runId: `${runId}-${label}` }),
    );
  if (o.placementSequentialRequests > 0) {
    result.sequential = await load('c1', o.placementSequentialRequests, 1);
    if (result.sequential) hooks.log(`shoal: placement one at a time: p50 ${fmt(result.sequential.latencyMs.p50, 1)} ms, p99 ${fmt(result.sequential.latencyMs.p99, 1)} ms, ${result.sequential.placed}/${result.sequential.sent} placed`);
  }
  if (o.placementConcurrentRequests > 0) {
    result.concurrent = await load(`c${o.placementConcurrency}`, o.placementConcurrentRequests, o.placementConcurrency);
    if (result.concurrent) hooks.log(`shoal: placement ${o.placementConcurrency} in flight: ${fmt(result.concurrent.placementsPerS, 1)}/s, p50 ${fmt(result.concurrent.latencyMs.p50, 1)} ms, p99 ${fmt(result.concurrent.latencyMs.p99, 1)} ms`);
  }
  for (const r of [result.sequential, result.concurrent]) {
    if (r && r.errors > 0) side.problems.push(`placement c${r.concurrency}: ${r.errors} errors, e.g. ${r.errorSamples[0]}`);
  }
}

export function fmt(v: number | null | undefined, digits = 2): string {
  return v === null || v === undefined || !Number.isFinite(v) ? '—' : v.toFixed(digits);
}
