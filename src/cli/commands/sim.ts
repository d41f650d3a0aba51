import { Command } from 'commander';

/**
 * `shoal sim …`: the simulator's own command (`simulations/cli.ts`), loaded only when used so
 * the other subcommands do not pay for its imports (vega, the engine).
 */
export function simCommand(): Command {
  return new Command('sim')
    .description('run a simulation scenario over the real gossip and placement code (shoal sim --help; simulations/README.md)')
    .helpOption(false)
    .allowUnknownOption()
    .allowExcessArguments()
    .argument('[args...]', 'simulator options: --scenario FILE [--nodes N] [--seed S] [--out DIR] [--sweep k=v1,v2]')
    .action(async (args: string[]) => {
      const { createSimCommand } = await import('../../../simulations/cli.ts');
      await createSimCommand().name('shoal sim').parseAsync(args, { from: 'user' });
    });
}
