import type { Command } from 'commander';
import type { JobRecord } from '../../core/job.ts';
import { formatResources, printJson } from '../output.ts';
import { clientCommand, withClient, type ClientFlags } from './client-command.ts';

export function statusCommand(): Command {
  return clientCommand('status', 'show one job, wherever it runs (in this cluster or, as ID@cluster, in a federated one)')
    .argument('<id>', 'job id, or ID@cluster for a job in another federated cluster')
    .action(async (id: string, flags: ClientFlags) => {
      const { data } = await withClient(flags, (c) => c.call<JobRecord>('GET', `/v1/jobs/${encodeURIComponent(id)}`));
      if (flags.json) return printJson(data);
      printJob(data);
    });
}

export function printJob(j: JobRecord): void {
  const lines: [string, string][] = [
    ['ID', j.id],
    ['Name', j.spec.name],
    ['Kind', j.spec.kind],
    ['State', j.state + (j.reason ? ` (${j.reason})` : '')],
    ['Desired', j.desired],
    ['Host', j.host],
    ['Driver', j.driver],
    ['Resources', formatResources(j.spec.resources)],
    ['Tenant', j.spec.tenant],
    ['Epoch', String(j.epoch)],
    ['Created', new Date(j.createdAtMs).toISOString()],
    ['Updated', new Date(j.updatedAtMs).toISOString()],
  ];
  const width = Math.max(...lines.map(([k]) => k.length));
  process.stdout.write(lines.map(([k, v]) => `${k.padEnd(width)}  ${v}`).join('\n') + '\n');
}
