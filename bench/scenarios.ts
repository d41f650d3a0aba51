import { setTimeout as delay } from 'node:timers/promises';
import type { AgentCluster, MemberView, ProtocolCounters } from './cluster.ts';
import type { LinkCounters, Testbed } from './netns.ts';
import { availableParallelism, loadavg } from 'node:os';
import { sampleMachineCpu, sampleProcess, type ProcSample } from './proc-stats.ts';
import { ratePerS, summarize, type Summary } from './stats.ts';
import { mapLimit } from './wait.ts';

/**
 * The scenarios, written once against `AgentCluster` so that Shoal and Serf are started,
 * disturbed, polled and counted by exactly the same code.
 */

export interface ViewWaitResult {
  /** Every observer's view met the condition within the timeout. */
  complete: boolean;
  /** Seconds from the disturbance until the last observer's view met it (null: not all did). */
  allS: number | null;
  /** Per observer: seconds until its view first met it (observers that never did are left out). */
  perObserverS: Summary;
  satisfied: number;
  observers: number;
  pollIntervalMs: number;
}

export interface WindowResult {
  durationS: number;
  agents: number;
  /** Per agent, per second, on the agent's own veth (IP packets, headers included). */
  rxBytesPerS: Summary;
  txBytesPerS: Summary;
  rxPacketsPerS: Summary;
  txPacketsPerS: Summary;
  /** Per agent that ran the whole window: CPU time ÷ wall time, in % of one core. */
  cpuPercent: Summary;
  /** Per agent that ran the whole window: the largest RSS sampled, in MB. */
  rssMb: Summary;
  /** Per agent, per second, from the agent's own counters (Shoal only). */
  protocol: { messagesInPerS: Summary; messagesOutPerS: Summary; payloadBytesInPerS: Summary } | null;
  /** What else the machine was doing: all its cores busy (%), the part the agents used, and the 1-minute load average at the start. */
  machine: { busyPercent: number | null; agentsPercent: number; loadAvg1: number };
}

export interface ScenarioTiming {
  pollIntervalMs: number;
  timeoutMs: number;
  signal?: AbortSignal | undefined;
  /** When the wait gives up, if not `t0 + timeoutMs` (read on every round, so it may move). */
  deadlineMs?: () => number;
}

const RSS_SAMPLE_MS = 2000;
const cores = Math.max(1, availableParallelism());
const MB = 1024 * 1024;

/**
 * Polls the given observers' member lists until each has met `ok` once; an observer is not
 * asked again after that, so polling thins out as views converge. Times are taken when the
 * answer arrives (an upper bound, at most one poll interval plus a round trip late).
 */
export async function waitForViews(
  cluster: AgentCluster,
  observers: readonly number[],
  ok: (view: MemberView[], observer: number) => boolean,
  t0Ms: number,
  timing: ScenarioTiming,
): Promise<ViewWaitResult> {
  const firstOkS = new Map<number, number>();
  const deadline = timing.deadlineMs ?? ((): number => t0Ms + timing.timeoutMs);
  while (firstOkS.size < observers.length && performance.now() < deadline()) {
    timing.signal?.throwIfAborted();
    const round = performance.now();
    await Promise.all(
      observers
        .filter((o) => !firstOkS.has(o))
        .map(async (o) => {
          try {
            const view = await cluster.members(o);
            if (ok(view, o)) firstOkS.set(o, (performance.now() - t0Ms) / 1000);
          } catch {
            // an agent busy or restarting: ask again next round
          }
        }),
    );
    const wait = timing.pollIntervalMs - (performance.now() - round);
    if (wait > 0 && firstOkS.size < observers.length) await delay(wait);
  }
  const times = [...firstOkS.values()];
  const complete = firstOkS.size === observers.length;
  return {
    complete,
    allS: complete ? Math.max(...times, 0) : null,
    perObserverS: summarize(times),
    satisfied: firstOkS.size,
    observers: observers.length,
    pollIntervalMs: timing.pollIntervalMs,
  };
}

/** True when `view` holds every one of `names` with status alive. */
export function allAlive(view: readonly MemberView[], names: ReadonlySet<string>): boolean {
  let alive = 0;
  for (const m of view) if (m.status === 'alive' && names.has(m.name)) alive++;
  return alive >= names.size;
}

export function statusOf(view: readonly MemberView[], name: string): string | null {
  for (const m of view) if (m.name === name) return m.status;
  return null;
}

export function range(n: number): number[] {
  return Array.from({ length: n }, (_, i) => i);
}

export interface FormationResult extends ViewWaitResult {
  /** How the agents were told to join: `api` (a running agent is asked) or `flag` (agent 0's address on the command line at start). */
  mode: JoinMode;
  /** Seconds to start the agents (until each one's API answered): all of them alone (`api`), or agents 1…N−1 with the flag (`flag`). */
  startAllS: number;
  /** `api` mode: join calls that failed (each is retried twice, a second apart, as an operator would). */
  joinErrors: string[];
}

const JOIN_ATTEMPTS = 3;

export type JoinMode = 'api' | 'flag';

/**
 * `api`: starts every agent alone, then asks agents 1..N−1 to join agent 0 at the same
 * moment, and times from that moment. `flag`: starts agent 0, then agents 1..N−1 with
 * agent 0 on their command line, and times from the first spawn (process start included).
 * Either way, until every agent lists all N alive.
 */
export async function formCluster(cluster: AgentCluster, timing: ScenarioTiming & { startConcurrency: number; mode: JoinMode }): Promise<FormationResult> {
  const all = range(cluster.size);
  const names = new Set(all.map((i) => cluster.agentName(i)));
  if (timing.mode === 'flag') {
    await cluster.start(0, { joinSeed: false, signal: timing.signal });
    const t0 = performance.now();
    // Views are polled while the others still start: the clock runs from the first spawn.
    const started = mapLimit(all.slice(1), timing.startConcurrency, (i) => cluster.start(i, { joinSeed: true, signal: timing.signal }));
    let startAllS = 0;
    let startedAt = Infinity;
    // The wait may end only `timeoutMs` after the last agent is up: starting 31 Node agents takes minutes on 2 cores.
    const deadlineMs = (): number => startedAt + timing.timeoutMs;
    const r = await Promise.all([
      started.then(
        () => {
          startedAt = performance.now();
          startAllS = (startedAt - t0) / 1000;
        },
        (err: unknown) => {
          startedAt = -Infinity; // stop polling at once: the phase has failed
          throw err;
        },
      ),
      waitForViews(cluster, all, (v) => allAlive(v, names), t0, { ...timing, deadlineMs }),
    ]);
    return { ...r[1], mode: 'flag', startAllS, joinErrors: [] };
  }
  const t = performance.now();
  await mapLimit(all, timing.startConcurrency, (i) => cluster.start(i, { joinSeed: false, signal: timing.signal }));
  const startAllS = (performance.now() - t) / 1000;
  const t0 = performance.now();
  const joinErrors: string[] = [];
  const joinOne = async (i: number): Promise<void> => {
    for (let attempt = 1; attempt <= JOIN_ATTEMPTS; attempt++) {
      try {
        await cluster.join(i, 0);
        return;
      } catch (err) {
        joinErrors.push(`${cluster.agentName(i)} attempt ${attempt}: ${(err as Error).message.slice(0, 600)}`);
        if (attempt < JOIN_ATTEMPTS) await delay(1000, undefined, timing.signal ? { signal: timing.signal } : undefined);
      }
    }
  };
  const [, r] = await Promise.all([Promise.all(all.slice(1).map(joinOne)), waitForViews(cluster, all, (v) => allAlive(v, names), t0, timing)]);
  return { ...r, mode: 'api', startAllS, joinErrors };
}

export interface DetectionResult {
  victim: string;
  /** Until each observer first shows the victim as anything but alive (Shoal: suspect). */
  known: ViewWaitResult;
  /** Until each observer shows it as failed. */
  failed: ViewWaitResult;
}

/** SIGKILLs `victim` and waits until every other running agent lists it as failed. */
export async function detectFailure(cluster: AgentCluster, victim: number, timing: ScenarioTiming): Promise<DetectionResult> {
  const name = cluster.agentName(victim);
  const observers = range(cluster.size).filter((i) => i !== victim && cluster.isRunning(i));
  const knownS = new Map<number, number>();
  const t0 = performance.now();
  cluster.kill(victim);
  const failed = await waitForViews(
    cluster,
    observers,
    (v, o) => {
      const s = statusOf(v, name);
      if (s !== 'alive' && !knownS.has(o)) knownS.set(o, (performance.now() - t0) / 1000);
      return s === cluster.failedStatus;
    },
    t0,
    timing,
  );
  const knownTimes = [...knownS.values()];
  const knownComplete = knownS.size === observers.length;
  return {
    victim: name,
    known: {
      complete: knownComplete,
      allS: knownComplete ? Math.max(...knownTimes, 0) : null,
      perObserverS: summarize(knownTimes),
      satisfied: knownS.size,
      observers: observers.length,
      pollIntervalMs: timing.pollIntervalMs,
    },
    failed,
  };
}

export interface RejoinResult {
  /** Seconds from spawning the restarted agent until its API answered. */
  startS: number;
  /** From the spawn until every agent (itself included) lists it alive. */
  knownAlive: ViewWaitResult;
}

/** Restarts a dead agent with agent 0 on its command line and waits until all list it alive. */
export async function rejoin(cluster: AgentCluster, index: number, timing: ScenarioTiming): Promise<RejoinResult> {
  const name = cluster.agentName(index);
  const t0 = performance.now();
  await cluster.start(index, { joinSeed: true, signal: timing.signal });
  const startS = (performance.now() - t0) / 1000;
  const observers = range(cluster.size).filter((i) => cluster.isRunning(i));
  const knownAlive = await waitForViews(cluster, observers, (v) => statusOf(v, name) === 'alive', t0, timing);
  return { startS, knownAlive };
}

/** Waits until every running agent lists every running agent alive (after a disturbance). */
export async function waitConverged(cluster: AgentCluster, timing: ScenarioTiming): Promise<ViewWaitResult> {
  const up = range(cluster.size).filter((i) => cluster.isRunning(i));
  const names = new Set(up.map((i) => cluster.agentName(i)));
  return waitForViews(cluster, up, (v) => allAlive(v, names), performance.now(), timing);
}

/**
 * Measures a window of `durationS`: veth counters of every agent, CPU and peak RSS of the
 * agents that ran throughout, and the agents' own protocol counters when they have any.
 * `during` runs concurrently (the churn); the window ends when both the time is up and
 * `during` has returned. Nothing polls the agents' APIs inside the window, so the figures
 * are the agents' own cost.
 */
export async function measureWindow(
  cluster: AgentCluster,
  testbed: Testbed,
  durationS: number,
  during?: (signal: AbortSignal) => Promise<void>,
  signal?: AbortSignal,
): Promise<WindowResult> {
  const all = range(cluster.size);
  const protoBefore = await protocolCountersOf(cluster, all);
  const pidsBefore = all.map((i) => cluster.pid(i));
  const procBefore: (ProcSample | null)[] = pidsBefore.map((pid) => (pid === null ? null : sampleProcess(pid)));
  const linkBefore: LinkCounters[] = testbed.allCounters();
  const machineBefore = sampleMachineCpu();
  const loadAvg1 = loadavg()[0]!;
  const t0 = performance.now();
  const peakRss = procBefore.map((p) => p?.rssBytes ?? 0);

  const windowCtl = new AbortController();
  const onAbort = (): void => windowCtl.abort(signal?.reason);
  signal?.addEventListener('abort', onAbort, { once: true });
  const sampler = (async () => {
    while (!windowCtl.signal.aborted) {
      await delay(RSS_SAMPLE_MS, undefined, { signal: windowCtl.signal }).catch(() => undefined);
      for (const i of all) {
        const pid = cluster.pid(i);
        if (pid === null || pid !== pidsBefore[i]) continue;
        const s = sampleProcess(pid);
        if (s) peakRss[i] = Math.max(peakRss[i]!, s.rssBytes);
      }
    }
  })();
  try {
    await Promise.all([delay(durationS * 1000, undefined, { signal: windowCtl.signal }), during?.(windowCtl.signal)]);
  } finally {
    windowCtl.abort();
    signal?.removeEventListener('abort', onAbort);
    await sampler;
  }
  const elapsedMs = performance.now() - t0;
  const linkAfter = testbed.allCounters();
  const machineAfter = sampleMachineCpu();
  const cpu: number[] = [];
  const rss: number[] = [];
  for (const i of all) {
    const pid = cluster.pid(i);
    const before = procBefore[i];
    if (pid === null || pid !== pidsBefore[i] || !before) continue; // restarted or down: not a whole-window figure
    const after = sampleProcess(pid);
    if (!after) continue;
    cpu.push(((after.cpuMs - before.cpuMs) / elapsedMs) * 100);
    rss.push(Math.max(peakRss[i]!, after.rssBytes) / MB);
  }
  const per = (f: (c: LinkCounters) => number): Summary => summarize(all.map((i) => ratePerS(f(linkBefore[i]!), f(linkAfter[i]!), elapsedMs)));
  const protoAfter = await protocolCountersOf(cluster, all);
  return {
    durationS: elapsedMs / 1000,
    agents: all.length,
    rxBytesPerS: per((c) => c.rxBytes),
    txBytesPerS: per((c) => c.txBytes),
    rxPacketsPerS: per((c) => c.rxPackets),
    txPacketsPerS: per((c) => c.txPackets),
    cpuPercent: summarize(cpu),
    rssMb: summarize(rss),
    protocol: protocolRates(protoBefore, protoAfter, pidsBefore, all.map((i) => cluster.pid(i)), elapsedMs),
    machine: {
      busyPercent:
        machineBefore && machineAfter && machineAfter.totalTicks > machineBefore.totalTicks
          ? (100 * (machineAfter.busyTicks - machineBefore.busyTicks)) / (machineAfter.totalTicks - machineBefore.totalTicks)
          : null,
      // The agents that ran throughout, scaled to the whole window and machine (all cores = 100%).
      agentsPercent: cpu.reduce((a, b) => a + b, 0) / cores,
      loadAvg1,
    },
  };
}

async function protocolCountersOf(cluster: AgentCluster, agents: readonly number[]): Promise<(ProtocolCounters | null)[]> {
  return Promise.all(agents.map((i) => (cluster.isRunning(i) ? cluster.protocolCounters(i).catch(() => null) : Promise.resolve(null))));
}

function protocolRates(
  before: readonly (ProtocolCounters | null)[],
  after: readonly (ProtocolCounters | null)[],
  pidsBefore: readonly (number | null)[],
  pidsAfter: readonly (number | null)[],
  elapsedMs: number,
): WindowResult['protocol'] {
  const inRate: number[] = [];
  const outRate: number[] = [];
  const bytesIn: number[] = [];
  before.forEach((b, i) => {
    const a = after[i];
    // Counters restart with the process: only agents that ran the whole window count.
    if (!b || !a || pidsBefore[i] !== pidsAfter[i]) return;
    inRate.push(ratePerS(b.messagesIn, a.messagesIn, elapsedMs));
    outRate.push(ratePerS(b.messagesOut, a.messagesOut, elapsedMs));
    bytesIn.push(ratePerS(b.payloadBytesIn, a.payloadBytesIn, elapsedMs));
  });
  if (inRate.length === 0) return null;
  return { messagesInPerS: summarize(inRate), messagesOutPerS: summarize(outRate), payloadBytesInPerS: summarize(bytesIn) };
}

export interface ChurnPlan {
  /** Agents that may be killed, in the order they are. */
  pool: number[];
  /** One kill -9 every this many seconds. */
  intervalS: number;
  /** A killed agent is restarted (with agent 0 on its command line) after this long. */
  downS: number;
}

export interface ChurnLog {
  kills: number;
  restarts: number;
  restartFailures: string[];
}

/**
 * Returns the `during` function of a churn window and the log it fills: every `intervalS`
 * one agent of the pool is SIGKILLed and restarted `downS` later. It returns once the last
 * restart is done, so the window also covers the rejoin traffic.
 */
export function churn(cluster: AgentCluster, plan: ChurnPlan, windowS: number): { during: (signal: AbortSignal) => Promise<void>; log: ChurnLog } {
  const log: ChurnLog = { kills: 0, restarts: 0, restartFailures: [] };
  const during = async (signal: AbortSignal): Promise<void> => {
    const restarts: Promise<void>[] = [];
    const t0 = performance.now();
    let k = 0;
    // Kills stop early enough for the last restart to be inside the window.
    while (plan.pool.length > 0 && (k * plan.intervalS + plan.downS) < windowS && !signal.aborted) {
      const at = t0 + k * plan.intervalS * 1000;
      const wait = at - performance.now();
      if (wait > 0) await delay(wait, undefined, { signal }).catch(() => undefined);
      if (signal.aborted) break;
      const victim = plan.pool[k % plan.pool.length]!;
      k++;
      if (!cluster.isRunning(victim)) continue;
      cluster.kill(victim);
      log.kills++;
      restarts.push(
        (async () => {
          await delay(plan.downS * 1000);
          try {
            await cluster.start(victim, { joinSeed: true });
            log.restarts++;
          } catch (err) {
            log.restartFailures.push(`${cluster.agentName(victim)}: ${(err as Error).message}`);
          }
        })(),
      );
    }
    await Promise.all(restarts);
  };
  return { during, log };
}
