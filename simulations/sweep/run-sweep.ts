import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import type { RunResult } from '../run/result.ts';
import { formatNumber } from '../scenario/assertions.ts';
import type { Scenario } from '../scenario/schema.ts';
import { expandGrid, type SweepAxis } from './grid.ts';

export interface SweepRow {
  readonly point: Record<string, number | string | boolean>;
  readonly result: RunResult | null;
  readonly error: string | null;
}

/** Columns of the trade-off table: cost against speed and accuracy. */
export const SWEEP_COLUMNS: readonly { metric: string; title: string }[] = [
  { metric: 'steady_msgs_in_per_host_s', title: 'msgs/s' },
  { metric: 'steady_bytes_in_per_host_s', title: 'B/s' },
  { metric: 'steady_ctrl_in_per_host_s', title: 'ctrl/s' },
  { metric: 'peak_to_steady_msgs', title: 'peak×' },
  { metric: 'detection_known_p99_s', title: 'detect p99 s' },
  { metric: 'false_suspicions', title: 'false susp' },
  { metric: 'convergence_p99_s', title: 'conv p99 s' },
  { metric: 'record_staleness_p99_s', title: 'stale p99 s' },
  { metric: 'summary_age_p99_s', title: 'summ age p99 s' },
  { metric: 'placement_p99_ms', title: 'place p99 ms' },
  { metric: 'retries_per_request', title: 'retries/req' },
];

/**
 * Runs the grid, one replica per worker thread, at most `workers` at a time (default: one per
 * core). Each replica is a full run with its own seed-determined trace; baselines are left out.
 */
export async function runSweep(base: Scenario, axes: readonly SweepAxis[], opts: { workers?: number; onDone?: (row: SweepRow, done: number, total: number) => void } = {}): Promise<SweepRow[]> {
  const grid = expandGrid(base, axes);
  const workers = Math.max(1, Math.min(opts.workers ?? availableParallelism(), grid.length));
  const rows: SweepRow[] = new Array(grid.length);
  let next = 0;
  let done = 0;
  const runOne = (i: number): Promise<void> =>
    new Promise((resolve) => {
      const g = grid[i]!;
      // Each replica gets the heap its host count needs (see heapMbFor in cli.ts).
      const heapMb = Math.min(11_264, Math.max(2_048, Math.ceil(1_536 + g.scenario.nodes * 0.095)));
      const w = new Worker(new URL('./sweep-worker.ts', import.meta.url), { workerData: { scenario: g.scenario }, resourceLimits: { maxOldGenerationSizeMb: heapMb } });
      let settled = false;
      const finish = (row: SweepRow): void => {
        if (settled) return;
        settled = true;
        rows[i] = row;
        opts.onDone?.(row, ++done, grid.length);
        void w.terminate();
        resolve();
      };
      w.once('message', (m: { ok: boolean; result?: RunResult; error?: string }) => finish({ point: g.point, result: m.ok ? m.result! : null, error: m.ok ? null : m.error! }));
      w.once('error', (err) => finish({ point: g.point, result: null, error: err.stack ?? err.message }));
      w.once('exit', (code) => finish({ point: g.point, result: null, error: `worker exited with code ${code} before answering` }));
    });
  const lane = async (): Promise<void> => {
    while (next < grid.length) await runOne(next++);
  };
  await Promise.all(Array.from({ length: workers }, lane));
  return rows;
}

/** The trade-off table as aligned text: one row per grid point, sweep keys first. */
export function formatSweepTable(axes: readonly SweepAxis[], rows: readonly SweepRow[]): string {
  const head = [...axes.map((a) => a.key), ...SWEEP_COLUMNS.map((c) => c.title), 'asserts'];
  const body = rows.map((r) => [
    ...axes.map((a) => String(r.point[a.key])),
    ...SWEEP_COLUMNS.map((c) => {
      const v = r.result?.metrics[c.metric];
      return v === null || v === undefined ? '—' : formatNumber(v);
    }),
    r.result === null ? `ERROR` : r.result.assertions.length === 0 ? '—' : r.result.passed ? 'pass' : `FAIL(${r.result.assertions.filter((a) => !a.pass).length})`,
  ]);
  const widths = head.map((h, i) => Math.max(h.length, ...body.map((b) => b[i]!.length)));
  const line = (cells: readonly string[]): string => cells.map((c, i) => c.padStart(widths[i]!)).join('  ');
  return [line(head), widths.map((w) => '-'.repeat(w)).join('  '), ...body.map(line)].join('\n');
}
