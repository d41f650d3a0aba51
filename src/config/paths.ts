import { resolve } from 'node:path';
import type { Config } from './schema.ts';

/**
 * Where the agent keeps its state. As root it follows the FHS paths of the systemd unit;
 * otherwise everything goes under `./.shoal`, so a first `npm start` needs no privileges.
 */
export interface AgentPaths {
  dataDir: string;
  socket: string;
}

export function isRoot(): boolean {
  return typeof process.getuid === 'function' && process.getuid() === 0;
}

export function defaultPaths(root = isRoot()): AgentPaths {
  return root
    ? { dataDir: '/var/lib/shoal', socket: '/run/shoal/shoal.sock' }
    : { dataDir: resolve('.shoal/data'), socket: resolve('.shoal/shoal.sock') };
}

export function agentPaths(config: Config, root = isRoot()): AgentPaths {
  const fallback = defaultPaths(root);
  return {
    dataDir: resolve(config.agent.dataDir ?? fallback.dataDir),
    socket: resolve(config.agent.socket ?? fallback.socket),
  };
}
