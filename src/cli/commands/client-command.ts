import { Command, Option } from 'commander';
import { ShoalClient } from '../client.ts';

/** Options every client subcommand shares. */
export interface ClientFlags {
  address?: string;
  json?: boolean;
}

/** A subcommand that talks to an agent: it gets `--address` and `--json`, and a client it need not close. */
export function clientCommand(name: string, description: string): Command {
  return new Command(name)
    .description(description)
    .addOption(new Option('--address <addr>', 'agent address: unix:///path/to/shoal.sock or http://host:port').env('SHOAL_ADDR'))
    .option('--json', 'print JSON instead of columns');
}

export async function withClient<T>(flags: ClientFlags, fn: (client: ShoalClient) => Promise<T>): Promise<T> {
  const client = new ShoalClient({ address: flags.address });
  try {
    return await fn(client);
  } finally {
    await client.close();
  }
}
