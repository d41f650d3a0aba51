import { Command } from 'commander';
import { generateSwarmKey, writeSwarmKeyFile } from '../../net/swarm-key.ts';

export function keygenCommand(): Command {
  return new Command('keygen')
    .description('write a new private-network key (every member of a cluster needs the same one: net.network_key)')
    .argument('[file]', 'where to write it (mode 0600, never overwritten); prints to stdout without it')
    .action(async (file?: string) => {
      if (!file) {
        process.stdout.write(Buffer.from(generateSwarmKey()).toString());
        return;
      }
      await writeSwarmKeyFile(file);
      process.stdout.write(`wrote a private-network key to ${file}\n`);
    });
}
