import { errorMessage, ShoalError } from '../src/core/index.ts';
import { createSimCommand } from './cli.ts';

/**
 * Runs `shoal sim` without the agent's CLI: `node simulations/main.ts --scenario FILE …`
 * (the same command `shoal sim` / `npm run sim --` run once the lead registers it).
 */
try {
  await createSimCommand().name('sim').parseAsync(process.argv);
} catch (err) {
  process.stderr.write(`sim: ${err instanceof ShoalError ? `${err.code}: ` : ''}${errorMessage(err)}\n`);
  if (!(err instanceof ShoalError)) process.stderr.write(`${(err as Error).stack ?? ''}\n`);
  process.exitCode = 1;
}
