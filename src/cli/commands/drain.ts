import type { Command } from 'commander';
import { ShoalError } from '../../core/errors.ts';
import { printJson } from '../output.ts';
import { clientCommand, withClient, type ClientFlags } from './client-command.ts';
import { shortPeer } from './jobs.ts';

interface DrainStatus {
  host: string;
  draining: boolean;
  remaining: number;
  moved: number;
  stuck: { jobId: string; name: string; reason: string }[];
  drained: boolean;
}

/** Poll interval of `--wait`: a drain moves a few jobs per second. */
const WAIT_POLL_MS = 500;

export function drainCommand(): Command {
  return clientCommand('drain', 'stop new placements on a host and move its jobs elsewhere (--cancel undoes it)')
    .argument('<host>', 'peer id of the host, a unique prefix of one in this cell, or "self"')
    .option('--cancel', 'take placements again (jobs already moved stay where they are)')
    .option('--wait', 'wait until every job has moved')
    .option('--timeout-s <seconds>', 'with --wait: give up after this long', '600')
    .action(async (host: string, flags: ClientFlags & { cancel?: boolean; wait?: boolean; timeoutS: string }) => {
      const body = { host, cancel: flags.cancel === true };
      let { data } = await withClient(flags, (c) => c.call<DrainStatus>('POST', '/v1/agent/drain', body));
      if (flags.wait && !body.cancel) {
        const deadline = Date.now() + Number(flags.timeoutS) * 1000;
        while (!data.drained) {
          if (Date.now() > deadline) {
            throw new ShoalError('CLI_TIMEOUT', `host ${data.host} still has ${data.remaining} job(s) to move after ${flags.timeoutS} s${stuckText(data)}`, { ...data });
          }
          await new Promise((r) => setTimeout(r, WAIT_POLL_MS));
          ({ data } = await withClient(flags, (c) => c.call<DrainStatus>('POST', '/v1/agent/drain', body)));
        }
      }
      if (flags.json) return printJson(data);
      const who = shortPeer(data.host);
      if (!data.draining) process.stdout.write(`host ${who}: drain cancelled, taking placements again\n`);
      else if (data.drained) process.stdout.write(`host ${who}: drained (${data.moved} job(s) moved), no job left\n`);
      else process.stdout.write(`host ${who}: draining, ${data.remaining} job(s) left to move, ${data.moved} moved${stuckText(data)}\n`);
    });
}

function stuckText(s: DrainStatus): string {
  return s.stuck.length === 0 ? '' : `; not movable yet: ${s.stuck.map((j) => `${j.name} (${j.jobId}): ${j.reason}`).join('; ')}`;
}
