import { Command, CommanderError } from 'commander';
import { errorMessage, ShoalError } from '../core/errors.ts';
import { VERSION } from '../agent/version.ts';
import { ConfigError } from '../config/load.ts';
import { agentCommand } from './commands/agent/index.ts';
import { cellsCommand } from './commands/cells.ts';
import { drainCommand } from './commands/drain.ts';
import { eventsCommand } from './commands/events.ts';
import { infoCommand } from './commands/info.ts';
import { jobsCommand } from './commands/jobs.ts';
import { joinCommand } from './commands/join.ts';
import { keygenCommand } from './commands/keygen.ts';
import { membersCommand } from './commands/members.ts';
import { simCommand } from './commands/sim.ts';
import { statusCommand } from './commands/status.ts';
import { stopCommand } from './commands/stop.ts';
import { submitCommand } from './commands/submit.ts';
import { usageCommand } from './commands/usage.ts';
import { EXIT_ERROR, exitCodeFor } from './exit-codes.ts';

export function buildProgram(): Command {
  const program = new Command('shoal')
    .description('Shoal: a peer-to-peer cluster daemon for hypervisor hosts')
    .version(VERSION)
    .showHelpAfterError()
    .exitOverride();
  for (const cmd of [agentCommand(), submitCommand(), jobsCommand(), statusCommand(), stopCommand(), membersCommand(), drainCommand(), cellsCommand(), infoCommand(), eventsCommand(), joinCommand(), keygenCommand(), usageCommand(), simCommand()]) {
    program.addCommand(cmd.exitOverride());
  }
  return program;
}

export async function main(argv: string[]): Promise<void> {
  try {
    await buildProgram().parseAsync(argv);
  } catch (err) {
    if (err instanceof CommanderError) {
      process.exitCode = err.exitCode === 0 ? 0 : EXIT_ERROR;
      return;
    }
    const code = err instanceof ShoalError ? err.code : 'INTERNAL';
    process.stderr.write(`shoal: ${err instanceof ConfigError ? '' : `${code}: `}${errorMessage(err)}\n`);
    if (!(err instanceof ShoalError)) process.stderr.write(`${(err as Error).stack ?? ''}\n`);
    process.exitCode = exitCodeFor(err);
  }
}
