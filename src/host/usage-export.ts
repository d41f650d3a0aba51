import type { Millis } from '../core/clock.ts';
import type { UsageBucket } from './metering.ts';

/**
 * Usage reports for billing systems, as pure functions over stored buckets: sum per job or
 * per tenant over a time range, then render CSV (RFC 4180) or JSON. The range is applied at
 * bucket granularity: a bucket counts when it overlaps [since, until).
 */

export interface UsageQuery {
  readonly groupBy: 'job' | 'tenant';
  readonly tenant?: string;
  readonly sinceMs?: Millis;
  readonly untilMs?: Millis;
}

export interface UsageRow {
  readonly tenant: string;
  /** Present when grouped by job. */
  readonly jobId?: string;
  readonly vcpuSeconds: number;
  readonly memoryMiBSeconds: number;
  readonly runningSeconds: number;
  /** Start of the earliest and end of the latest bucket summed. */
  readonly fromMs: Millis;
  readonly toMs: Millis;
}

export function summarizeUsage(buckets: readonly UsageBucket[], q: UsageQuery, bucketMs: number): UsageRow[] {
  const rows = new Map<string, { tenant: string; jobId?: string; vcpu: number; mem: number; run: number; from: number; to: number }>();
  for (const b of buckets) {
    if (q.tenant !== undefined && b.tenant !== q.tenant) continue;
    if (q.sinceMs !== undefined && b.startMs < bucketFloor(q.sinceMs, bucketMs)) continue;
    if (q.untilMs !== undefined && b.startMs >= q.untilMs) continue;
    const key = q.groupBy === 'job' ? `${b.tenant}\u0000${b.jobId}` : b.tenant;
    let r = rows.get(key);
    if (!r) {
      r = { tenant: b.tenant, ...(q.groupBy === 'job' ? { jobId: b.jobId } : {}), vcpu: 0, mem: 0, run: 0, from: b.startMs, to: b.startMs + bucketMs };
      rows.set(key, r);
    }
    r.vcpu += b.vcpuSeconds;
    r.mem += b.memoryMiBSeconds;
    r.run += b.runningSeconds;
    r.from = Math.min(r.from, b.startMs);
    r.to = Math.max(r.to, b.startMs + bucketMs);
  }
  // Sorted by key so the same data always renders the same report.
  return [...rows.entries()]
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([, r]) => ({
      tenant: r.tenant,
      ...(r.jobId !== undefined ? { jobId: r.jobId } : {}),
      vcpuSeconds: round3(r.vcpu),
      memoryMiBSeconds: round3(r.mem),
      runningSeconds: round3(r.run),
      fromMs: r.from,
      toMs: r.to,
    }));
}

const CSV_COLUMNS = ['tenant', 'job_id', 'from', 'to', 'running_seconds', 'vcpu_seconds', 'memory_mib_seconds'] as const;

/** RFC 4180 CSV with a header row and ISO-8601 UTC times; CRLF line ends. */
export function usageToCsv(rows: readonly UsageRow[]): string {
  const lines = [CSV_COLUMNS.join(',')];
  for (const r of rows) {
    lines.push(
      [r.tenant, r.jobId ?? '', iso(r.fromMs), iso(r.toMs), String(r.runningSeconds), String(r.vcpuSeconds), String(r.memoryMiBSeconds)].map(csvField).join(','),
    );
  }
  return `${lines.join('\r\n')}\r\n`;
}

export interface UsageJson {
  readonly version: 1;
  readonly groupBy: 'job' | 'tenant';
  readonly since?: string;
  readonly until?: string;
  readonly rows: readonly (Omit<UsageRow, 'fromMs' | 'toMs'> & { from: string; to: string })[];
}

export function usageToJson(rows: readonly UsageRow[], q: UsageQuery): UsageJson {
  return {
    version: 1,
    groupBy: q.groupBy,
    ...(q.sinceMs !== undefined ? { since: iso(q.sinceMs) } : {}),
    ...(q.untilMs !== undefined ? { until: iso(q.untilMs) } : {}),
    rows: rows.map(({ fromMs, toMs, ...rest }) => ({ ...rest, from: iso(fromMs), to: iso(toMs) })),
  };
}

function csvField(s: string): string {
  return /[",\r\n]/.test(s) ? `"${s.replaceAll('"', '""')}"` : s;
}

function iso(ms: Millis): string {
  return new Date(ms).toISOString();
}

function round3(n: number): number {
  return Math.round(n * 1000) / 1000;
}

function bucketFloor(t: Millis, bucketMs: number): Millis {
  return Math.floor(t / bucketMs) * bucketMs;
}
