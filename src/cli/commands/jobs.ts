import type { Command } from 'commander';
import type { JobRecord } from '../../core/job.ts';
import { MISSING_HEADER } from '../../api/headers.ts';
import { formatAge, formatResources, printJson, printTable } from '../output.ts';
import { clientCommand, withClient, type ClientFlags } from './client-command.ts';

export function jobsCommand(): Command {
  return clientCommand('jobs', 'list jobs (this host, or the whole cluster with --cluster)')
    .option('--cluster', 'list jobs on every host')
    .option('--state <state>', 'only jobs in this state')
    .option('--tenant <tenant>', 'only jobs of this tenant')
    .action(async (flags: ClientFlags & { cluster?: boolean; state?: string; tenant?: string }) => {
      const query = new URLSearchParams();
      if (flags.cluster) query.set('cluster', 'true');
      if (flags.state) query.set('state', flags.state);
      if (flags.tenant) query.set('tenant', flags.tenant);
      const { data, headers } = await withClient(flags, (c) => c.call<JobRecord[]>('GET', `/v1/jobs${query.size ? `?${query}` : ''}`));
      const missing = Number(headers[MISSING_HEADER] ?? 0);
      if (missing > 0) process.stderr.write(`warning: the list is incomplete: ${missing} hosts or cells did not answer, and their jobs are not shown (the agent's log names them)\n`);
      if (flags.json) return printJson(data);
      const now = Date.now();
      printTable(
        data.map((j) => ({
          ID: j.id,
          NAME: j.spec.name,
          KIND: j.spec.kind,
          STATE: j.state,
          DESIRED: j.desired,
          HOST: shortPeer(j.host),
          RESOURCES: formatResources(j.spec.resources),
          TENANT: j.spec.tenant,
          AGE: formatAge(now - j.createdAtMs),
        })),
        ['ID', 'NAME', 'KIND', 'STATE', 'DESIRED', 'HOST', 'RESOURCES', 'TENANT', 'AGE'],
      );
    });
}

/** Peer ids are long; the tail is what differs between them. */
export function shortPeer(id: string): string {
  return id.length > 16 ? `…${id.slice(-10)}` : id;
}
