import { readFileSync } from 'node:fs';
import type { Logger } from 'pino';
import { Agent } from '../../../agent/agent.ts';
import { createLogger } from '../../../agent/logger.ts';
import { systemClock } from '../../../net/system-clock.ts';
import { loadOrCreateIdentity } from '../../../net/identity.ts';
import { SeededRng } from '../../../core/rng.ts';
import { ShoalError } from '../../../core/errors.ts';
import { agentPaths, loadConfig, type Config, type ConfigSources } from '../../../config/index.ts';
import { flagsToConfigTree, type AgentFlags } from './options.ts';
import { randomInt } from 'node:crypto';
import { flushCompileCache } from 'node:module';

/**
 * `shoal agent`: load the layered config, start the agent, and map signals the way Serf
 * does: SIGINT/SIGTERM leave gracefully, SIGHUP reloads what can be reloaded.
 */
export async function runAgent(flags: AgentFlags): Promise<void> {
  const sources: ConfigSources = { file: flags.config, env: process.env, flags: flagsToConfigTree(flags) };
  const config = loadConfig(sources);
  const paths = agentPaths(config);

  if (flags.checkConfig) {
    process.stdout.write(`configuration is valid${flags.config ? ` (${flags.config})` : ''}\n`);
    process.stdout.write(`${JSON.stringify({ ...config, agent: { ...config.agent, ...paths } }, null, 2)}\n`);
    return;
  }

  const logger = await createLogger({ level: config.log.level });
  const agent = new Agent(
    { config, paths, socketGroupId: config.agent.socketGroup ? groupId(config.agent.socketGroup) : undefined },
    { clock: systemClock, rng: new SeededRng(randomInt(2 ** 32)), logger, loadIdentity: loadOrCreateIdentity },
  );

  const stopped = new Promise<void>((resolve) => {
    const shutdown = (signal: string): void => {
      void agent.stop(`received ${signal}`).then(resolve, (err: unknown) => {
        logger.error({ err }, 'error while stopping');
        resolve();
      });
    };
    process.once('SIGINT', () => shutdown('SIGINT'));
    process.once('SIGTERM', () => shutdown('SIGTERM'));
  });
  process.on('SIGHUP', () => reload(agent, sources, logger));

  try {
    await agent.start();
  } catch (err) {
    await agent.stop('start failed').catch(() => undefined);
    throw err;
  }
  // Every module the agent runs is loaded now: write Node's compile cache (bin/shoal.js) at
  // once rather than at exit, so an agent that is killed, not stopped, still leaves it behind.
  flushCompileCache();
  await stopped;
}

function reload(agent: Agent, sources: ConfigSources, logger: Logger): void {
  let next: Config;
  try {
    next = loadConfig({ ...sources, env: process.env });
  } catch (err) {
    logger.error({ err: (err as Error).message }, 'SIGHUP: new configuration is invalid; keeping the running one');
    return;
  }
  const { applied, needsRestart } = agent.reload(next);
  logger.info({ applied, needsRestart }, 'SIGHUP: configuration reloaded');
}

/** Resolves a group name to its gid from /etc/group. */
function groupId(name: string): number {
  const line = readFileSync('/etc/group', 'utf8')
    .split('\n')
    .find((l) => l.split(':')[0] === name);
  if (!line) throw new ShoalError('CONFIG_INVALID', `agent.socket_group: no group named "${name}" on this host`);
  return Number(line.split(':')[2]);
}
