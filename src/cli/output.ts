/** Aligned columns like `consul members`, or JSON with --json. */

export type Row = Record<string, string | number | boolean | undefined>;

export function formatTable(rows: Row[], columns: string[]): string {
  const cells = [columns, ...rows.map((row) => columns.map((c) => format(row[c])))];
  const widths = columns.map((_, i) => Math.max(...cells.map((r) => r[i]!.length)));
  return cells.map((r) => r.map((cell, i) => (i === r.length - 1 ? cell : cell.padEnd(widths[i]!))).join('  ').trimEnd()).join('\n');
}

function format(v: string | number | boolean | undefined): string {
  return v === undefined ? '-' : String(v);
}

export function printJson(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
}

export function printTable(rows: Row[], columns: string[]): void {
  process.stdout.write(`${formatTable(rows, columns)}\n`);
}

export function formatAge(ms: number | undefined): string {
  if (ms === undefined) return '-';
  if (ms < 1000) return `${Math.round(ms)}ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)}s`;
  if (ms < 3_600_000) return `${Math.round(ms / 60_000)}m`;
  return `${Math.round(ms / 3_600_000)}h`;
}

export function formatResources(r: { vcpus: number; memoryMiB: number; diskGiB: number } | undefined): string {
  if (!r) return '-';
  return `${r.vcpus}cpu/${r.memoryMiB >= 1024 ? `${Math.round((r.memoryMiB / 1024) * 10) / 10}G` : `${r.memoryMiB}M`}/${r.diskGiB}G`;
}
