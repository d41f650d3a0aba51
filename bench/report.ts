import type { MachineFacts } from './machine-facts.ts';
import type { BenchOptions } from './options.ts';
import type { SimFigures } from './sim-calibration.ts';
import type { ViewWaitResult, WindowResult } from './scenarios.ts';
import type { SideResult } from './side-run.ts';
import { ratio, relativeError } from './stats.ts';

/**
 * Turns a run's results into tables: printed aligned on the console and written as
 * Markdown to RESULTS.md. Every value comes from the run's result objects.
 */

export interface Table {
  title: string;
  intro: string[];
  columns: string[];
  rows: string[][];
}

export interface BenchReport {
  startedAt: Date;
  finishedAt: Date;
  command: string;
  options: BenchOptions;
  machine: MachineFacts;
  serf: SideResult | null;
  shoal: SideResult | null;
  sim: SimFigures | null;
  /** Problems outside a side (testbed, simulator). */
  problems: string[];
  serfEncrypted: boolean;
  gossipProfile: string;
}

export interface Target {
  /** Shown in the target column. */
  text: string;
  /** The value meets it. */
  met: (v: number) => boolean;
}

export function num(v: number | null | undefined, digits = 2): string {
  if (v === null || v === undefined || !Number.isFinite(v)) return '—';
  if (Math.abs(v) >= 1000) return v.toFixed(0);
  return v.toFixed(digits);
}

/** Shoal ÷ Serf where lower is better: "worse" whenever Shoal costs more by over 5%. */
export function verdict(shoal: number | null | undefined, serf: number | null | undefined): { ratio: string; verdict: string } {
  const r = ratio(shoal, serf);
  if (r === null) {
    if (shoal === 0 && serf === 0) return { ratio: '—', verdict: 'same' };
    return { ratio: '—', verdict: '—' };
  }
  const text = r >= 100 ? r.toFixed(0) : r >= 10 ? r.toFixed(1) : r.toFixed(2);
  if (r > 1.05) return { ratio: `${text}×`, verdict: `**Shoal worse** (${text}×)` };
  if (r < 0.95) return { ratio: `${text}×`, verdict: `Shoal better` };
  return { ratio: `${text}×`, verdict: 'about the same' };
}

export function targetCell(v: number | null | undefined, target: Target | undefined): string {
  if (!target) return '';
  if (v === null || v === undefined || !Number.isFinite(v)) return `${target.text}: not measured`;
  return target.met(v) ? `${target.text}: met` : `${target.text}: **NOT met**`;
}

export function errorCell(sim: number | null | undefined, real: number | null | undefined): string {
  const e = relativeError(sim, real);
  if (e === null) return '—';
  const pct = e * 100;
  return `${pct >= 0 ? '+' : ''}${Math.abs(pct) >= 100 ? pct.toFixed(0) : pct.toFixed(1)}%`;
}

/** The `npm run bench` command line that reproduces this run's options (only what differs from the defaults). */
export function benchCommand(o: BenchOptions, defaults: BenchOptions, only?: readonly string[]): string {
  const args: string[] = [];
  const flag = (k: string): string => `--${k.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`;
  for (const key of Object.keys(defaults) as (keyof BenchOptions)[]) {
    if (key === 'only' || key === 'workDir' || key === 'keepWorkDir' || key === 'resultsFile') continue;
    if (key === 'agents') {
      args.push(`${flag(key)} ${o.agents}`);
      continue;
    }
    if (o[key] === defaults[key]) continue;
    if (typeof o[key] === 'boolean') args.push(o[key] ? flag(key) : `--no-${flag(key).slice(2)}`);
    else args.push(`${flag(key)} ${String(o[key])}`);
  }
  const sides = only ?? o.only;
  if (sides.length !== defaults.only.length || sides.some((s) => !defaults.only.includes(s as never))) args.push(`--only ${sides.join(',')}`);
  return `npm run bench -- ${args.join(' ')}`.trim();
}

/** A wait that ended before every observer got there: how many did. */
export interface Unfinished {
  unfinished: string;
}

export type Figure = number | null | undefined | Unfinished;

function isUnfinished(f: Figure): f is Unfinished {
  return typeof f === 'object' && f !== null;
}

/** The time every observer took, or how many got there when not all did. */
export function waitFigure(r: ViewWaitResult | null | undefined, pick: 'all' | 'p50' = 'all'): Figure {
  if (!r) return null;
  if (pick === 'p50') return r.perObserverS.p50;
  return r.complete ? r.allS : { unfinished: `${r.satisfied}/${r.observers} agents in time` };
}

function cell(f: Figure, digits = 2): string {
  return isUnfinished(f) ? `— (${f.unfinished})` : num(f, digits);
}

/** Like `verdict`, where a wait that did not finish loses against one that did. */
export function figureVerdict(shoal: Figure, serf: Figure): { ratio: string; verdict: string } {
  if (isUnfinished(shoal) && typeof serf === 'number') return { ratio: '—', verdict: '**Shoal worse** (not every agent got there)' };
  if (isUnfinished(serf) && typeof shoal === 'number') return { ratio: '—', verdict: 'Shoal better (Serf did not finish)' };
  if (isUnfinished(shoal) || isUnfinished(serf)) return { ratio: '—', verdict: '—' };
  return verdict(shoal, serf);
}

interface CompareSpec {
  figure: string;
  get: (s: SideResult) => Figure;
  digits?: number;
  target?: Target;
}

function compareRows(serf: SideResult | null, shoal: SideResult | null, specs: CompareSpec[], command: string): string[][] {
  return specs.map((sp) => {
    const a = shoal ? sp.get(shoal) : null;
    const b = serf ? sp.get(serf) : null;
    const v = figureVerdict(a, b);
    return [sp.figure, cell(a, sp.digits), cell(b, sp.digits), v.ratio, v.verdict, targetCell(isUnfinished(a) ? null : a, sp.target), `\`${command}\``];
  });
}

const cpuTarget: Target = { text: '≤ 1% of a core', met: (v) => v <= 1 };
const rssTarget: Target = { text: '≤ 150 MB', met: (v) => v <= 150 };
const placementP50Target: Target = { text: '≤ 50 ms', met: (v) => v <= 50 };

export function comparisonTable(r: BenchReport, defaults: BenchOptions): Table {
  const o = r.options;
  const cmd = benchCommand(o, defaults, ['serf', 'shoal']);
  const specs: CompareSpec[] = [
    { figure: `join (${joinHow(o.joinMode)}): every agent lists all ${o.agents} alive (s)`, get: (s) => waitFigure(s.formation) },
    { figure: 'join: median agent sees all (s)', get: (s) => waitFigure(s.formation, 'p50') },
    { figure: 'kill -9: known (suspect or failed) at every agent (s)', get: (s) => waitFigure(s.detection?.known) },
    { figure: 'kill -9: median agent knows (s)', get: (s) => waitFigure(s.detection?.known, 'p50') },
    { figure: 'kill -9: failed at every agent (s)', get: (s) => waitFigure(s.detection?.failed) },
    { figure: 'kill -9: median agent has it failed (s)', get: (s) => waitFigure(s.detection?.failed, 'p50') },
    { figure: 'restart: process spawn → API answers (s)', get: (s) => s.rejoin?.startS },
    { figure: 'restart: spawn → alive at every agent (s)', get: (s) => waitFigure(s.rejoin?.knownAlive) },
    { figure: 'idle: bytes received per agent per s', get: (s) => s.idle?.rxBytesPerS.mean, digits: 0 },
    { figure: 'idle: bytes sent per agent per s', get: (s) => s.idle?.txBytesPerS.mean, digits: 0 },
    { figure: 'idle: packets received per agent per s', get: (s) => s.idle?.rxPacketsPerS.mean, digits: 1 },
    { figure: 'idle: packets sent per agent per s', get: (s) => s.idle?.txPacketsPerS.mean, digits: 1 },
    { figure: 'churn: bytes received per agent per s', get: (s) => s.churn?.rxBytesPerS.mean, digits: 0 },
    { figure: 'churn: bytes sent per agent per s', get: (s) => s.churn?.txBytesPerS.mean, digits: 0 },
    { figure: 'churn: packets received per agent per s', get: (s) => s.churn?.rxPacketsPerS.mean, digits: 1 },
    { figure: 'churn: packets sent per agent per s', get: (s) => s.churn?.txPacketsPerS.mean, digits: 1 },
    { figure: 'churn: reconverged after the window (s)', get: (s) => waitFigure(s.reconverge) },
    { figure: 'idle: CPU per agent, mean (% of a core)', get: (s) => s.idle?.cpuPercent.mean, target: cpuTarget },
    { figure: 'idle: CPU of the busiest agent (% of a core)', get: (s) => s.idle?.cpuPercent.max, target: cpuTarget },
    { figure: 'churn: CPU per surviving agent, mean (% of a core)', get: (s) => s.churn?.cpuPercent.mean },
    { figure: 'idle: RSS per agent, mean (MB)', get: (s) => s.idle?.rssMb.mean, digits: 1, target: rssTarget },
    { figure: 'idle: RSS of the largest agent (MB)', get: (s) => s.idle?.rssMb.max, digits: 1, target: rssTarget },
  ];
  return {
    title: `Shoal vs Serf: ${o.agents} real agents each, same run`,
    intro: [
      `Lower is better for every figure; "Shoal worse" marks each one where Shoal costs more than Serf (by over 5%). Targets are DESIGN.md's, for Shoal.`,
      `Serf ${r.machine.serf ?? '(not found)'}, LAN profile (gossip 200 ms, probe 1 s)${serfEncryptNote(r)}; Shoal gossip profile \`${r.gossipProfile}\`, fake driver.`,
    ],
    columns: ['figure', 'Shoal', 'Serf', 'Shoal ÷ Serf', 'verdict', 'target (DESIGN.md)', 'command'],
    rows: compareRows(r.serf, r.shoal, specs, cmd),
  };
}

function joinHow(mode: string): string {
  return mode === 'api' ? 'running agents asked to join agent 0' : 'agents started with agent 0 on the command line, from the first spawn';
}

function serfEncryptNote(r: BenchReport): string {
  return r.serfEncrypted ? ", gossip encrypted with a per-run key (as Shoal's is, by pnet and noise)" : ', gossip not encrypted';
}

export function placementTable(r: BenchReport, defaults: BenchOptions): Table {
  const o = r.options;
  const p = r.shoal?.placement ?? null;
  const cmd = `\`${benchCommand(o, defaults, ['shoal'])}\``;
  const rows: string[][] = [];
  const add = (figure: string, v: number | null | undefined, digits: number, target?: Target): void => {
    rows.push([figure, num(v, digits), targetCell(v, target), cmd]);
  };
  const seq = p?.sequential ?? null;
  const con = p?.concurrent ?? null;
  add(`one at a time: latency p50 (ms), ${seq?.placed ?? 0}/${seq?.sent ?? 0} placed`, seq?.latencyMs.p50, 1, placementP50Target);
  add('one at a time: latency p99 (ms)', seq?.latencyMs.p99, 1);
  add('one at a time: placements/s', seq?.placementsPerS, 1);
  add(`${o.placementConcurrency} in flight: latency p50 (ms), ${con?.placed ?? 0}/${con?.sent ?? 0} placed`, con?.latencyMs.p50, 1, placementP50Target);
  add(`${o.placementConcurrency} in flight: latency p99 (ms)`, con?.latencyMs.p99, 1);
  add(`${o.placementConcurrency} in flight: placements/s`, con?.placementsPerS, 1);
  add('requests refused (422) or failed, both runs', seq || con ? (seq?.refused ?? 0) + (seq?.errors ?? 0) + (con?.refused ?? 0) + (con?.errors ?? 0) : null, 0);
  add(`hosts that received jobs (of ${p?.agents ?? o.placementAgents})`, seq || con ? Math.max(seq?.hostsUsed ?? 0, con?.hostsUsed ?? 0) : null, 0);
  add(`SIGTERM of ${o.agents - o.placementAgents} agents → agent 0 lists them not alive (s)`, p?.leave?.allS, 2);
  return {
    title: `Placement through one agent's socket: Shoal, ${o.placementAgents} agents`,
    intro: [
      `POST /v1/jobs on agent 0's Unix socket (undici), 1-vCPU/512 MiB VM jobs with the fake driver, binpack, a fresh idempotency key each; bounded by count and ${o.placementMaxDurationS} s per run. Latency is request sent → full answer, for placed jobs.`,
    ],
    columns: ['figure', 'value', 'target (DESIGN.md)', 'command'],
    rows,
  };
}

export function calibrationTable(r: BenchReport, defaults: BenchOptions): Table {
  const o = r.options;
  const sim = r.sim;
  const real = r.shoal;
  const realCmd = `\`${benchCommand(o, defaults, ['shoal'])}\``;
  const simCmd = (k: number): string => (sim ? `\`${sim.commands[k]}\`` : `\`${benchCommand(o, defaults, ['sim'])}\``);
  const row = (figure: string, a: number | null | undefined, b: number | null | undefined, digits: number, k: number): string[] => [figure, num(a, digits), num(b, digits), errorCell(b, a), realCmd, simCmd(k)];
  const rows: string[][] = [
    row(`join: all views correct (s)${o.joinMode === 'flag' ? ', real includes process start' : ''}`, real?.formation?.allS, sim?.formationAllS, 2, 0),
    row('join: median host (s)', real?.formation?.perObserverS.p50, sim?.formationP50S, 2, 0),
    row('crash: median observer knows (suspect) (s)', real?.detection?.known.perObserverS.p50, sim?.detectionKnownP50S, 2, 1),
    row('crash: last observer knows (real max, sim p99) (s)', real?.detection?.known.allS, sim?.detectionKnownP99S, 2, 1),
    row('crash: median observer has it failed (s)', real?.detection?.failed.perObserverS.p50, sim?.detectionFailedP50S, 2, 1),
    row('crash: last observer has it failed (real max, sim p99) (s)', real?.detection?.failed.allS, sim?.detectionFailedP99S, 2, 1),
    row('idle: messages received per host per s (unique)', real?.idle?.protocol?.messagesInPerS.mean, sim?.idle.uniqueMsgsInPerS, 2, 1),
    row('idle: packets received (real) vs messages incl. duplicates and control (sim)', real?.idle?.rxPacketsPerS.mean, sumOrNull(sim?.idle.msgsInPerS, sim?.idle.ctrlInPerS), 2, 1),
    row('idle: bytes received per host per s', real?.idle?.rxBytesPerS.mean, sim?.idle.bytesInPerS, 0, 1),
    row(`idle: bytes received less ${L2_L4_HEADER_BYTES} B of Ethernet/IPv4/TCP headers per packet`, aboveTcp(real?.idle), sim?.idle.bytesInPerS, 0, 1),
    row('churn: messages received per host per s (unique)', real?.churn?.protocol?.messagesInPerS.mean, sim?.churn.uniqueMsgsInPerS, 2, 2),
    row('churn: packets received (real) vs messages incl. duplicates and control (sim)', real?.churn?.rxPacketsPerS.mean, sumOrNull(sim?.churn.msgsInPerS, sim?.churn.ctrlInPerS), 2, 2),
    row('churn: bytes received per host per s', real?.churn?.rxBytesPerS.mean, sim?.churn.bytesInPerS, 0, 2),
    row(`churn: bytes received less ${L2_L4_HEADER_BYTES} B of Ethernet/IPv4/TCP headers per packet`, aboveTcp(real?.churn), sim?.churn.bytesInPerS, 0, 2),
  ];
  const ov = sim?.overlay ?? null;
  if (ov) {
    const ovRow = (figure: string, a: number | null, b: number | null, digits: number): string[] => [figure, num(a, digits), num(b, digits), errorCell(b, a), simCmd(3), simCmd(3)];
    const tag = `gossipsub overlay, ${ov.nodes} real libp2p nodes on 127.0.0.1 vs the model, ${ov.messages} messages`;
    rows.push(
      ovRow(`${tag}: delivery ratio`, ov.real.deliveryRatio, ov.model.deliveryRatio, 3),
      ovRow(`${tag}: duplicates per delivery`, ov.real.duplicatesPerDelivery, ov.model.duplicatesPerDelivery, 2),
      ovRow(`${tag}: publish → delivery p50 (ms)`, ov.real.latencyMs.p50, ov.model.latencyMs.p50, 1),
      ovRow(`${tag}: publish → delivery p99 (ms)`, ov.real.latencyMs.p99, ov.model.latencyMs.p99, 1),
    );
  }
  return {
    title: `Simulator calibration: the same ${o.agents} hosts and scenarios, real and simulated`,
    intro: [
      `Simulated: the simulator's own command on scenario files written from this run's options (same N, windows, churn rate and down time, one rack), ${sim ? `seeds ${sim.seeds.join(', ')}` : 'not run'}, averaged. Error = (simulated − real) ÷ real.`,
      'Real "messages" are the agent\'s own counters (gossip first copies, direct requests served and answered); the simulator\'s unique messages are its received messages less duplicates. Real bytes and packets are IP traffic on the agent\'s veth (TCP/IP headers and ACKs included); simulated bytes are payloads plus modelled libp2p framing, so a gap there is expected and shows what the model leaves out. Simulated times are sampled each simulated second (join) or exact (crash); real ones are polled every ' + `${o.pollIntervalMs} ms.`,
    ],
    columns: ['figure', 'real Shoal', 'simulated', 'error', 'real: command', 'simulated: command'],
    rows,
  };
}

/** Ethernet 14 + IPv4 20 + TCP 20 + timestamp option 12: what every TCP segment on the veth carries besides its payload. */
const L2_L4_HEADER_BYTES = 66;

/** Bytes received per second above TCP (an estimate: header bytes per packet taken as fixed), to compare with the simulator's payload-and-framing bytes. */
function aboveTcp(w: WindowResult | null | undefined): number | null {
  const b = w?.rxBytesPerS.mean;
  const p = w?.rxPacketsPerS.mean;
  return b === null || b === undefined || p === null || p === undefined ? null : Math.max(0, b - p * L2_L4_HEADER_BYTES);
}

function sumOrNull(a: number | null | undefined, b: number | null | undefined): number | null {
  return a === null || a === undefined || b === null || b === undefined ? null : a + b;
}

export function machineTable(r: BenchReport): Table {
  const m = r.machine;
  return {
    title: 'Machine',
    intro: [],
    columns: ['fact', 'value'],
    rows: [
      ['CPU', `${m.cpuModel}, ${m.cores} cores`],
      ['memory', `${m.memoryGiB.toFixed(1)} GiB`],
      ['kernel', m.kernel],
      ['Node', m.node],
      ['serf', m.serf ?? 'not found'],
      ['libp2p / @libp2p/gossipsub', `${m.libp2p ?? '?'} / ${m.gossipsub ?? '?'}`],
      ['commit', `${m.gitCommit ?? '?'}${m.gitDirty ? ' (with uncommitted changes)' : ''}`],
      ['load average (1 min) at start', `${m.loadAvg1.toFixed(1)} on ${m.cores} cores${m.loadAvg1 > m.cores ? ': the machine was busy with other work' : ''}`],
      ['run', `${r.startedAt.toISOString()} → ${r.finishedAt.toISOString()} (${((r.finishedAt.getTime() - r.startedAt.getTime()) / 1000).toFixed(0)} s)`],
    ],
  };
}

/** How busy the machine was in each measurement window: figures taken on a loaded machine say so. */
export function conditionsTable(r: BenchReport): Table {
  const rows: string[][] = [];
  const add = (side: SideResult | null, name: string, w: WindowResult | null | undefined): void => {
    if (!side || !w) return;
    const m = w.machine;
    const others = m.busyPercent === null ? null : Math.max(0, m.busyPercent - m.agentsPercent);
    rows.push([`${side.kind} ${name}`, num(w.durationS, 0), num(m.busyPercent, 0), num(m.agentsPercent, 1), num(others, 0), num(m.loadAvg1, 1)]);
  };
  for (const side of [r.serf, r.shoal]) {
    add(side, 'idle', side?.idle);
    add(side, 'churn', side?.churn);
  }
  return {
    title: 'Machine load during the measurement windows',
    intro: [
      `All ${r.machine.cores} cores = 100%. "Other processes" is everything but the agents measured (the bench itself, other work on the machine); a high share, or a load average far above ${r.machine.cores}, means latencies and convergence times above are pessimistic. CPU% per agent is the agent's own CPU time and is not inflated by other load.`,
    ],
    columns: ['window', 'seconds', 'machine busy %', 'agents %', 'other processes %', 'load average (1 min) at start'],
    rows,
  };
}

export function allProblems(r: BenchReport): string[] {
  return [...r.problems, ...(r.serf?.problems.map((p) => `serf ${p}`) ?? []), ...(r.shoal?.problems.map((p) => `shoal ${p}`) ?? [])];
}

const METHOD = [
  'Each agent runs in its own network namespace (`ip netns`), joined to a private bridge by a veth pair; its gossip address is 10.77.x.y. Per-agent bytes and packets are the counters of its veth (`/sys/class/net/<veth>/statistics`), read the same way for Shoal and Serf. The bench talks to Shoal over its Unix socket and to Serf\'s RPC over a second, management veth, so polling never shows up in those counters.',
  'CPU and RSS come from `/proc/<pid>/stat` and `/proc/<pid>/status` of each agent process (CPU time ÷ wall time of the window; the largest RSS sampled every 2 s). Churn CPU counts only agents that were not restarted in the window.',
  'Join, `--join-mode api`: every agent is started alone, then agents 1…N−1 are asked to join agent 0 at the same moment (Serf RPC `join`, Shoal `POST /v1/agent/join`), and the clock starts then. `--join-mode flag`: agent 0 is started, then agents 1…N−1 with agent 0 on their command line (`serf agent -join`, `shoal agent --join`), and the clock starts at the first spawn, so process start is included. Either way, until each agent\'s member list (Serf RPC `members`, Shoal `GET /v1/agent/members`) shows all N alive.',
  'Kill -9: the last agent gets SIGKILL; "known" is the first poll where an observer no longer lists it alive (Serf has no suspect state in its member list, so for Serf known = failed), "failed" the first where it lists it failed. Restart: the same agent is started again with agent 0 on its command line.',
  'Idle and churn windows: nothing polls the agents inside a window. Churn: one agent (never agent 0) gets SIGKILL every interval and is restarted after the down time; the window lasts until the last restart is done.',
  'Times are taken when a poll\'s answer arrives, so each is at most one poll interval plus a round trip late.',
];

export function buildTables(r: BenchReport, defaults: BenchOptions): Table[] {
  const tables = [machineTable(r)];
  if (r.serf || r.shoal) tables.push(comparisonTable(r, defaults), conditionsTable(r));
  if (r.shoal) tables.push(placementTable(r, defaults));
  if (r.sim || r.shoal) tables.push(calibrationTable(r, defaults));
  return tables;
}

function mdEscape(s: string): string {
  return s.replace(/\|/g, '\\|').replace(/\n/g, ' ');
}

export function renderMarkdown(r: BenchReport, defaults: BenchOptions): string {
  const out: string[] = [];
  out.push('# Benchmark results', '');
  out.push(`Written by \`${r.command}\` (bench/run.ts) on ${r.finishedAt.toISOString().slice(0, 10)}. Every figure below comes from that run; run the command to regenerate this file. Do not edit it by hand.`, '');
  for (const t of buildTables(r, defaults)) {
    out.push(`## ${t.title}`, '');
    for (const line of t.intro) out.push(line, '');
    out.push(`| ${t.columns.map(mdEscape).join(' | ')} |`);
    out.push(`|${t.columns.map(() => '---').join('|')}|`);
    for (const row of t.rows) out.push(`| ${row.map(mdEscape).join(' | ')} |`);
    out.push('');
  }
  const problems = allProblems(r);
  out.push('## Problems in this run', '');
  if (problems.length === 0) out.push('None: every phase ran and every wait completed.', '');
  else for (const p of problems) out.push(`- ${mdEscape(p)}`);
  if (problems.length > 0) out.push('');
  out.push('## Method', '');
  for (const m of METHOD) out.push(`- ${m}`);
  out.push('');
  return out.join('\n');
}

/** Aligned plain-text tables for the console (without the command columns, which are long). */
export function renderText(r: BenchReport, defaults: BenchOptions): string {
  const out: string[] = [];
  for (const t of buildTables(r, defaults)) {
    const keep = t.columns.map((c, i) => (c.includes('command') ? -1 : i)).filter((i) => i >= 0);
    const cols = keep.map((i) => t.columns[i]!);
    const rows = t.rows.map((row) => keep.map((i) => row[i]!.replace(/\*\*/g, '')));
    const widths = cols.map((c, j) => Math.max(c.length, ...rows.map((row) => row[j]!.length)));
    const line = (cells: string[]): string => cells.map((c, j) => (j === 0 ? c.padEnd(widths[j]!) : c.padStart(widths[j]!))).join('  ');
    out.push('', t.title, line(cols), widths.map((w) => '-'.repeat(w)).join('  '));
    for (const row of rows) out.push(line(row));
  }
  const problems = allProblems(r);
  if (problems.length > 0) {
    out.push('', 'Problems:');
    for (const p of problems) out.push(`  - ${p}`);
  }
  return out.join('\n');
}

export const README_START = '<!-- BENCH:START -->';
export const README_END = '<!-- BENCH:END -->';

/**
 * The short table for the project README (issue 9): a few headline figures, each with its
 * command. It replaces whatever sits between README_START and README_END; a README without
 * both markers is left alone (returns null).
 */
export function readmeBlock(r: BenchReport, defaults: BenchOptions): string {
  const o = r.options;
  const both = `\`${benchCommand(o, defaults, ['serf', 'shoal'])}\``;
  const shoalOnly = `\`${benchCommand(o, defaults, ['shoal'])}\``;
  const rows: string[][] = [];
  const cmp = (figure: string, get: (s: SideResult) => Figure, digits = 2): void => {
    const a = r.shoal ? get(r.shoal) : null;
    const b = r.serf ? get(r.serf) : null;
    rows.push([figure, cell(a, digits), cell(b, digits), figureVerdict(a, b).verdict, both]);
  };
  cmp(`join of ${o.agents} agents: all views complete (s)`, (s) => waitFigure(s.formation));
  cmp('kill -9: failed at every agent (s)', (s) => waitFigure(s.detection?.failed));
  cmp('idle: bytes received per agent per s', (s) => s.idle?.rxBytesPerS.mean, 0);
  cmp('idle: CPU per agent (% of a core)', (s) => s.idle?.cpuPercent.mean);
  cmp('idle: RSS per agent (MB)', (s) => s.idle?.rssMb.mean, 1);
  const seq = r.shoal?.placement?.sequential ?? null;
  const con = r.shoal?.placement?.concurrent ?? null;
  rows.push([`placement through one socket, ${o.placementAgents} agents: p50 / p99 (ms)`, `${num(seq?.latencyMs.p50, 1)} / ${num(seq?.latencyMs.p99, 1)}`, '', '', shoalOnly]);
  rows.push([`placements/s with ${o.placementConcurrency} in flight`, num(con?.placementsPerS, 1), '', '', shoalOnly]);
  const lines = [
    README_START,
    `Latest \`npm run bench\` figures (${r.finishedAt.toISOString().slice(0, 10)}, ${r.machine.cores}-core ${r.machine.cpuModel}; all figures and the method: [bench/RESULTS.md](bench/RESULTS.md)).`,
    '',
    '| figure | Shoal | Serf | verdict | command |',
    '|---|---|---|---|---|',
    ...rows.map((row) => `| ${row.map(mdEscape).join(' | ')} |`),
    README_END,
  ];
  return lines.join('\n');
}

/** `readme` with its bench block replaced, or null when it has no (well-ordered) pair of markers. */
export function replaceReadmeBlock(readme: string, block: string): string | null {
  const a = readme.indexOf(README_START);
  const b = readme.indexOf(README_END);
  if (a < 0 || b < a) return null;
  return readme.slice(0, a) + block + readme.slice(b + README_END.length);
}
