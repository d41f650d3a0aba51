import { Option, type Command } from 'commander';
import { ShoalError } from '../../core/errors.ts';
import type { JobRecord } from '../../core/job.ts';
import type { UsageJson } from '../../host/usage-export.ts';
import type { ShoalClient } from '../client.ts';
import { printJson, printTable, type Row } from '../output.ts';
import { clientCommand, withClient, type ClientFlags } from './client-command.ts';

/**
 * `shoal usage`: metered vCPU-seconds, memory-MiB-seconds and running time of this host's
 * jobs, per job and per tenant. `--csv` and `--json` print exactly what `GET /v1/usage`
 * exports for billing systems; without them, aligned columns for people.
 */

interface UsageFlags extends ClientFlags {
  tenant?: string;
  since?: string;
  until?: string;
  by: 'job' | 'tenant';
  csv?: boolean;
}

type UsageJsonRow = UsageJson['rows'][number];

export function usageCommand(): Command {
  return clientCommand('usage', 'metered usage per job and per tenant (vCPU-seconds, memory-MiB-seconds, running time)')
    .option('--tenant <tenant>', 'only this tenant')
    .option('--since <iso>', 'from this time (ISO 8601, e.g. 2026-11-01 or 2026-11-01T00:00:00Z); hourly buckets overlapping it count')
    .option('--until <iso>', 'up to this time (ISO 8601)')
    .addOption(new Option('--by <what>', 'sum per job or per tenant (for --csv and --json)').choices(['job', 'tenant']).default('job'))
    .option('--csv', 'print CSV (RFC 4180) for billing systems')
    .action(async (flags: UsageFlags) => {
      if (flags.csv && flags.json) throw new ShoalError('CLI_BAD_INPUT', '--csv and --json are exclusive: pick one output format');
      const query = (by: 'job' | 'tenant', format: 'json' | 'csv'): string => {
        const q = new URLSearchParams();
        if (flags.tenant) q.set('tenant', flags.tenant);
        if (flags.since) q.set('since', flags.since);
        if (flags.until) q.set('until', flags.until);
        q.set('by', by);
        q.set('format', format);
        return `/v1/usage?${q}`;
      };
      await withClient(flags, async (c) => {
        if (flags.csv) {
          const { data } = await c.call<string>('GET', query(flags.by, 'csv'));
          process.stdout.write(data);
          return;
        }
        if (flags.json) {
          printJson((await c.call<UsageJson>('GET', query(flags.by, 'json'))).data);
          return;
        }
        const [jobs, tenants] = await Promise.all([c.call<UsageJson>('GET', query('job', 'json')), c.call<UsageJson>('GET', query('tenant', 'json'))]);
        const names = await jobNames(c);
        if (jobs.data.rows.length === 0) {
          process.stdout.write('no usage recorded for this selection\n');
          return;
        }
        printTable(
          jobs.data.rows.map((r) => ({ JOB: r.jobId, NAME: names.get(r.jobId ?? ''), TENANT: r.tenant, ...amounts(r) })),
          ['JOB', 'NAME', 'TENANT', 'RUNNING', 'RUNNING_S', 'VCPU_S', 'MEMORY_MIB_S', 'FROM', 'TO'],
        );
        process.stdout.write('\n');
        printTable(
          tenants.data.rows.map((r) => ({ TENANT: r.tenant, ...amounts(r) })),
          ['TENANT', 'RUNNING', 'RUNNING_S', 'VCPU_S', 'MEMORY_MIB_S', 'FROM', 'TO'],
        );
      });
    });
}

function amounts(r: UsageJsonRow): Row {
  return {
    RUNNING: formatDuration(r.runningSeconds),
    RUNNING_S: r.runningSeconds.toFixed(3),
    VCPU_S: r.vcpuSeconds.toFixed(3),
    MEMORY_MIB_S: r.memoryMiBSeconds.toFixed(3),
    FROM: r.from,
    TO: r.to,
  };
}

/** Names make the table readable; usage outlives jobs, so a missing name is fine. */
async function jobNames(c: ShoalClient): Promise<Map<string, string>> {
  try {
    const { data } = await c.call<JobRecord[]>('GET', '/v1/jobs');
    return new Map(data.map((j) => [j.id, j.spec.name]));
  } catch {
    return new Map();
  }
}

/** 3725.5 → "1h2m5s": the readable column beside the exact seconds. */
export function formatDuration(seconds: number): string {
  const total = Math.round(seconds);
  const h = Math.floor(total / 3600);
  const m = Math.floor((total % 3600) / 60);
  const s = total % 60;
  if (h > 0) return `${h}h${m}m${s}s`;
  if (m > 0) return `${m}m${s}s`;
  return `${s}s`;
}
