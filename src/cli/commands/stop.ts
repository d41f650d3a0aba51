import type { Command } from 'commander';
import type { JobRecord } from '../../core/job.ts';
import { printJson } from '../output.ts';
import { clientCommand, withClient, type ClientFlags } from './client-command.ts';

export function stopCommand(): Command {
  return clientCommand('stop', 'stop a job and release its capacity')
    .argument('<id>', 'job id')
    .action(async (id: string, flags: ClientFlags) => {
      const { data } = await withClient(flags, (c) => c.call<JobRecord>('DELETE', `/v1/jobs/${encodeURIComponent(id)}`));
      if (flags.json) return printJson(data);
      process.stdout.write(`job ${data.id} (${data.spec.name}) stopping; capacity released\n`);
    });
}
