import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { Command, InvalidArgumentError } from 'commander';
import { errorMessage, ShoalError } from '../src/core/index.ts';
import { machineFacts } from './machine-facts.ts';
import { cleanupTestbed, Testbed } from './netns.ts';
import { BENCH_SIDES, defaultBenchOptions, validateBenchOptions, type BenchOptions, type BenchSide } from './options.ts';
import { BenchProgress } from './progress.ts';
import { allProblems, benchCommand, readmeBlock, renderMarkdown, renderText, replaceReadmeBlock, README_START, type BenchReport } from './report.ts';
import { defaultSerfClusterOptions, SerfCluster } from './serf-cluster.ts';
import { defaultShoalClusterOptions, ShoalCluster } from './shoal-cluster.ts';
import { runPlacement, runSide, type Budget, type SideHooks } from './side-run.ts';
import { runSimCalibration } from './sim-calibration.ts';

/**
 * `npm run bench`: N real Serf agents, then N real Shoal agents, in network namespaces on
 * this machine, through the same scenarios; Shoal's placement through one socket; the same
 * scenarios in the simulator. Prints the tables and writes bench/RESULTS.md.
 */

const REPO = resolve(import.meta.dirname, '..');
/** Seconds kept back for phases still to come, so an early side cannot eat a later one's time. */
const RESERVE_S: Record<BenchSide, number> = { serf: 120, shoal: 300, sim: 100 };
/** Kept back from Shoal's membership phases for its placement phase. */
const PLACEMENT_RESERVE_S = 90;
/** Past the budget by this much, the run stops whatever it is doing (then cleans up). */
const HARD_STOP_GRACE_S = 60;

function intArg(name: string) {
  return (v: string): number => {
    const n = Number(v);
    if (!Number.isInteger(n)) throw new InvalidArgumentError(`${name} must be an integer, got "${v}"`);
    return n;
  };
}

function parseArgs(argv: string[]): BenchOptions {
  const d = defaultBenchOptions;
  const cmd = new Command('bench')
    .description('Real Shoal and Serf agents side by side in network namespaces, placement through one socket, and simulator calibration (bench/README.md)')
    .option('--agents <n>', 'agents per side', intArg('--agents'), d.agents)
    .option('--placement-agents <n>', 'Shoal agents kept for the placement figures', intArg('--placement-agents'), d.placementAgents)
    .option('--budget-s <s>', 'wall-clock budget of the whole run; phases that no longer fit are skipped', intArg('--budget-s'), d.budgetS)
    .option('--only <sides>', `comma-separated subset of ${BENCH_SIDES.join(',')}`, (v: string) => v.split(',').map((s) => s.trim()).filter(Boolean) as BenchSide[], d.only)
    .option('--idle-window-s <s>', 'idle measurement window', intArg('--idle-window-s'), d.idleWindowS)
    .option('--churn-window-s <s>', 'churn measurement window', intArg('--churn-window-s'), d.churnWindowS)
    .option('--churn-interval-s <s>', 'one kill -9 every this many seconds during churn', intArg('--churn-interval-s'), d.churnIntervalS)
    .option('--churn-down-s <s>', 'a killed agent is restarted after this long', intArg('--churn-down-s'), d.churnDownS)
    .option('--join-mode <mode>', 'api: ask running agents to join agent 0; flag: start them with agent 0 on the command line (process start included)', d.joinMode)
    .option('--poll-interval-ms <ms>', 'member-list polling interval (time resolution)', intArg('--poll-interval-ms'), d.pollIntervalMs)
    .option('--view-timeout-s <s>', 'longest wait for a convergence or a detection', intArg('--view-timeout-s'), d.viewTimeoutS)
    .option('--start-concurrency <n>', 'agents started at once', intArg('--start-concurrency'), d.startConcurrency)
    .option('--placement-sequential-requests <n>', 'placements sent one at a time', intArg('--placement-sequential-requests'), d.placementSequentialRequests)
    .option('--placement-concurrent-requests <n>', 'placements sent with --placement-concurrency in flight', intArg('--placement-concurrent-requests'), d.placementConcurrentRequests)
    .option('--placement-concurrency <n>', 'placements in flight in the concurrent run', intArg('--placement-concurrency'), d.placementConcurrency)
    .option('--placement-max-duration-s <s>', 'time limit of each placement run', intArg('--placement-max-duration-s'), d.placementMaxDurationS)
    .option('--seed <n>', 'first simulator seed', intArg('--seed'), d.seed)
    .option('--sim-seeds <n>', 'simulator seeds per scenario (averaged)', intArg('--sim-seeds'), d.simSeeds)
    .option('--sim-warmup-s <s>', 'simulated warm-up before the idle window', intArg('--sim-warmup-s'), d.simWarmupS)
    .option('--no-overlay-calibration', 'skip the gossipsub model vs real libp2p comparison')
    .option('--results-file <path>', 'where the Markdown results go', d.resultsFile)
    .option('--work-dir <dir>', 'scratch directory (default: a new one under the system temp dir)')
    .option('--keep-work-dir', 'keep agent data, logs and simulator reports', false)
    .allowExcessArguments(false);
  cmd.parse(argv);
  const raw = cmd.opts<Record<string, unknown>>();
  const o: BenchOptions = { ...d, ...(raw as Partial<BenchOptions>), workDir: (raw['workDir'] as string | undefined) ?? null };
  validateBenchOptions(o);
  return o;
}

function budgetFor(deadlineMs: number, later: BenchSide[]): Budget {
  const reserve = later.reduce((s, side) => s + RESERVE_S[side], 0);
  return { remainingS: () => (deadlineMs - performance.now()) / 1000 - reserve };
}

async function main(): Promise<number> {
  const o = parseArgs(process.argv);
  const progress = new BenchProgress({ budgetS: o.budgetS, tty: process.stdout.isTTY === true });
  const ctl = new AbortController();
  const onSignal = (sig: string): void => {
    progress.log(`${sig}: stopping, cleaning up`);
    ctl.abort(new ShoalError('BENCH_ABORTED', `interrupted by ${sig}`));
  };
  process.once('SIGINT', () => onSignal('SIGINT'));
  process.once('SIGTERM', () => onSignal('SIGTERM'));
  const deadlineMs = performance.now() + o.budgetS * 1000;
  const hardStop = setTimeout(() => {
    progress.log(`over budget by ${HARD_STOP_GRACE_S} s: stopping`);
    ctl.abort(new ShoalError('BENCH_OVER_BUDGET', `the run exceeded --budget-s ${o.budgetS} by ${HARD_STOP_GRACE_S} s`));
  }, (o.budgetS + HARD_STOP_GRACE_S) * 1000);
  hardStop.unref();

  const startedAt = new Date();
  const workDir = o.workDir ? resolve(o.workDir) : mkdtempSync(join(tmpdir(), 'shoal-bench-'));
  const machine = machineFacts(defaultSerfClusterOptions.serfBin);
  const report: BenchReport = {
    startedAt,
    finishedAt: startedAt,
    command: benchCommand(o, defaultBenchOptions),
    options: o,
    machine,
    serf: null,
    shoal: null,
    sim: null,
    problems: [],
    serfEncrypted: defaultSerfClusterOptions.encrypt,
    gossipProfile: defaultShoalClusterOptions.gossipProfile,
  };
  progress.log(`bench: ${o.agents} agents per side, sides ${o.only.join(', ')}, budget ${o.budgetS} s, work dir ${workDir}`);
  progress.log(`machine: ${machine.cpuModel} × ${machine.cores}, ${machine.memoryGiB.toFixed(1)} GiB, kernel ${machine.kernel}, Node ${machine.node}, serf ${machine.serf ?? 'not found'}, load average ${machine.loadAvg1.toFixed(1)}`);
  if (machine.loadAvg1 > machine.cores) progress.log(`warning: load average ${machine.loadAvg1.toFixed(1)} on ${machine.cores} cores: other work will skew latencies (RESULTS.md records it)`);
  const hooks: SideHooks = { phase: (p) => progress.phase(p), log: (l) => progress.log(l), signal: ctl.signal };
  const wants = (s: BenchSide): boolean => o.only.includes(s);
  const later = (s: BenchSide): BenchSide[] => BENCH_SIDES.slice(BENCH_SIDES.indexOf(s) + 1).filter(wants);

  let testbed: Testbed | null = null;
  let aborted = false;
  try {
    if (wants('serf') || wants('shoal')) {
      progress.phase('testbed');
      if (process.getuid?.() !== 0) throw new ShoalError('BENCH_NEEDS_ROOT', 'the testbed creates network namespaces: run the bench as root');
      testbed = new Testbed({ agents: o.agents });
      testbed.setUp();
      progress.log(`testbed: ${o.agents} namespaces shb-0…shb-${o.agents - 1}, bridge shbbr0, veths shbd*`);
    }
    if (wants('serf') && testbed) {
      if (!existsSync(defaultSerfClusterOptions.serfBin)) {
        report.problems.push(`serf: ${defaultSerfClusterOptions.serfBin} not found (apt-get install serf)`);
      } else {
        const serf = new SerfCluster(defaultSerfClusterOptions, { testbed, workDir });
        try {
          report.serf = await runSide(serf, testbed, o, budgetFor(deadlineMs, later('serf')), hooks);
        } finally {
          await serf.shutdown();
        }
      }
    }
    if (wants('shoal') && testbed) {
      const shoal = new ShoalCluster(defaultShoalClusterOptions, { testbed, workDir });
      try {
        const budget = budgetFor(deadlineMs, later('shoal'));
        const membershipBudget: Budget = { remainingS: () => budget.remainingS() - PLACEMENT_RESERVE_S };
        report.shoal = await runSide(shoal, testbed, o, membershipBudget, hooks);
        // Placement runs even on a partly formed cluster: agent 0 places on the hosts it knows.
        if (report.shoal.formation) await runPlacement(shoal, report.shoal, o, budget, hooks);
        else report.shoal.problems.push('placement: skipped, the agents did not start');
      } finally {
        await shoal.shutdown();
      }
    }
    if (testbed) {
      testbed.tearDown();
      testbed = null;
    }
    if (wants('sim')) {
      progress.phase('simulator calibration');
      try {
        if ((deadlineMs - performance.now()) / 1000 < RESERVE_S.sim / 2) throw new ShoalError('BENCH_OVER_BUDGET', 'skipped: the budget is spent');
        report.sim = await runSimCalibration(
          {
            nodes: o.agents,
            seed: o.seed,
            seeds: o.simSeeds,
            gossipProfile: defaultShoalClusterOptions.gossipProfile,
            idleWindowS: o.idleWindowS,
            churnWindowS: o.churnWindowS,
            churnIntervalS: o.churnIntervalS,
            churnDownS: o.churnDownS,
            warmupS: o.simWarmupS,
            runTimeoutMs: 120_000,
            overlay: o.overlayCalibration && (deadlineMs - performance.now()) / 1000 > 90,
            scenarioDir: join(REPO, 'bench/calibration'),
            outDir: join(workDir, 'sim'),
          },
          (line) => progress.log(line),
        );
      } catch (err) {
        if (ctl.signal.aborted) throw err;
        report.problems.push(`simulator: ${errorMessage(err)}`);
      }
    }
  } catch (err) {
    aborted = ctl.signal.aborted;
    report.problems.push(`run stopped: ${errorMessage(err)}`);
    progress.log(`run stopped: ${errorMessage(err)}`);
  } finally {
    clearTimeout(hardStop);
    if (testbed) testbed.tearDown();
    else if (aborted) cleanupTestbed();
    progress.stop();
  }

  report.finishedAt = new Date();
  process.stdout.write(`${renderText(report, defaultBenchOptions)}\n`);
  const problems = allProblems(report);
  if (aborted) {
    process.stdout.write(`\nNot writing ${o.resultsFile}: the run was interrupted. Work dir kept: ${workDir}\n`);
    return 130;
  }
  const resultsPath = resolve(REPO, o.resultsFile);
  writeFileSync(resultsPath, renderMarkdown(report, defaultBenchOptions));
  process.stdout.write(`\nwrote ${resultsPath}\n`);
  // The README's short table, when the README has the markers for it (a full run only: a partial one would blank figures).
  if (o.only.length === BENCH_SIDES.length) {
    const readmePath = join(REPO, 'README.md');
    const readme = readFileSync(readmePath, 'utf8');
    const updated = replaceReadmeBlock(readme, readmeBlock(report, defaultBenchOptions));
    if (updated === null) process.stdout.write(`README.md has no ${README_START} block: its short table was not updated\n`);
    else if (updated !== readme) {
      writeFileSync(readmePath, updated);
      process.stdout.write(`updated the figures in ${readmePath}\n`);
    }
  }
  if (o.keepWorkDir || problems.length > 0) process.stdout.write(`work dir kept: ${workDir}\n`);
  else rmSync(workDir, { recursive: true, force: true });
  return problems.length === 0 ? 0 : 1;
}

try {
  process.exitCode = await main();
} catch (err) {
  process.stderr.write(`bench: ${err instanceof ShoalError ? `${err.code}: ` : ''}${errorMessage(err)}\n`);
  process.exitCode = 1;
}
// Lingering keep-alive sockets of undici must not hold the process open.
setTimeout(() => process.exit(), 2000).unref();
