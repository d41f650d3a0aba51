import type { Command } from 'commander';
import { printJson } from '../output.ts';
import { clientCommand, withClient, type ClientFlags } from './client-command.ts';

export function joinCommand(): Command {
  return clientCommand('join', 'join this agent to peers at runtime (multiaddrs ending in /p2p/<peer id>)')
    .argument('<addr...>', 'peer multiaddrs')
    .action(async (addrs: string[], flags: ClientFlags) => {
      const { data } = await withClient(flags, (c) => c.call<{ joined: string[]; failed: { addr: string; error: string; retrying?: boolean }[] }>('POST', '/v1/agent/join', { addrs }));
      if (flags.json) return printJson(data);
      process.stdout.write(`joined ${data.joined.length} peer(s)\n`);
      for (const f of data.failed) process.stdout.write(`failed ${f.addr}: ${f.error}${f.retrying ? ' (retrying in the background)' : ''}\n`);
    });
}
