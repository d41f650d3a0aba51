import type { Command } from 'commander';
import { clientCommand, withClient, type ClientFlags } from './client-command.ts';

export function eventsCommand(): Command {
  return clientCommand('events', 'follow the agent event stream (NDJSON)')
    .option('--since <seq>', 'replay buffered events after this sequence number')
    .option('--type <prefix>', 'only events whose type starts with this prefix, e.g. job.')
    .action(async (flags: ClientFlags & { since?: string; type?: string }) => {
      const query = new URLSearchParams();
      if (flags.since) query.set('since', flags.since);
      if (flags.type) query.set('type', flags.type);
      const ctl = new AbortController();
      process.once('SIGINT', () => ctl.abort());
      await withClient(flags, async (c) => {
        try {
          for await (const ev of c.stream(`/v1/events${query.size ? `?${query}` : ''}`, ctl.signal)) {
            process.stdout.write(`${JSON.stringify(ev)}\n`);
          }
        } catch (err) {
          if (!ctl.signal.aborted) throw err;
        }
      });
    });
}
