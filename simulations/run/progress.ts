import cliProgress from 'cli-progress';
import { formatNumber } from '../scenario/assertions.ts';
import type { Progress } from './run-scenario.ts';

export interface ProgressReporter {
  update(p: Progress): void;
  /** A line that must not break the bar (assertion notes, warnings). */
  log(line: string): void;
  stop(): void;
}

/** Longest wall time between two plain progress lines. */
export const PLAIN_PROGRESS_MAX_GAP_MS = 60_000;

/** The process's resident memory now: the 12-GB target at 100k hosts is watched as a run goes. */
function rssGb(): string {
  return (process.memoryUsage.rss() / 2 ** 30).toFixed(1);
}

function eventsPerS(p: Progress): number {
  return Math.round(p.events / Math.max(0.001, p.wallMs / 1000));
}

/** `95 s`, `12 min`, `1.4 h`. */
export function formatDuration(s: number): string {
  if (s < 120) return `${Math.round(s)} s`;
  if (s < 7200) return `${Math.round(s / 60)} min`;
  return `${(s / 3600).toFixed(1)} h`;
}

/** A progress bar on a TTY; otherwise plain lines (see plainProgress). */
export function progressReporter(durationS: number, out: (line: string) => void): ProgressReporter {
  if (!process.stdout.isTTY) return plainProgress(durationS, out, rssGb);
  // A MultiBar, because only it can print log lines above the bar without breaking it.
  const multi = new cliProgress.MultiBar(
    { format: 'sim {bar} {value}/{total} s | wall {wall} s, eta {eta_formatted} | {eps} events/s | {live} hosts live | RSS {rss} GB', hideCursor: true, etaBuffer: 20 },
    cliProgress.Presets.shades_classic,
  );
  const bar = multi.create(Math.ceil(durationS), 0, { wall: '0', eps: '0', live: 0, rss: rssGb() });
  return {
    update: (p) => bar.update(Math.round(p.simMs / 1000), { wall: (p.wallMs / 1000).toFixed(0), eps: formatNumber(eventsPerS(p)), live: p.liveHosts, rss: rssGb() }),
    log: (line) => multi.log(`${line}\n`),
    stop: () => multi.stop(),
  };
}

/**
 * A line every 10% of simulated time and at least once a minute of wall time (a 100k-host
 * run spends many minutes per 10%), with the time left at the pace since the previous line.
 */
export function plainProgress(durationS: number, out: (line: string) => void, rss: () => string): ProgressReporter {
  let nextPct = 10;
  let last = { simMs: 0, wallMs: 0 };
  return {
    update: (p) => {
      const pct = (100 * p.simMs) / p.durationMs;
      const done = p.simMs >= p.durationMs;
      if (pct + 1e-9 < nextPct && !done && p.wallMs - last.wallMs < PLAIN_PROGRESS_MAX_GAP_MS) return;
      while (nextPct <= pct + 1e-9) nextPct += 10;
      // A warm start is slower than what follows it, so early guesses run long.
      const pace = (p.wallMs - last.wallMs) / Math.max(1, p.simMs - last.simMs);
      const left = done ? '' : `, ~${formatDuration((pace * (p.durationMs - p.simMs)) / 1000)} left`;
      last = { simMs: p.simMs, wallMs: p.wallMs };
      out(`progress: ${(p.simMs / 1000).toFixed(0)}/${durationS} s simulated, ${(p.wallMs / 1000).toFixed(1)} s wall${left}, ${eventsPerS(p)} events/s, ${p.liveHosts} hosts live, RSS ${rss()} GB`);
    },
    log: (line) => out(line),
    stop: () => {},
  };
}
