/** Flags of `shoal agent`; each overrides the config file and SHOAL_* variables. */
export interface AgentFlags {
  config?: string;
  dataDir?: string;
  socket?: string;
  listen?: string[];
  join?: string[];
  networkKey?: string;
  logLevel?: string;
  checkConfig?: boolean;
}

/** Shapes flags like the Config tree, leaving out what was not given. */
export function flagsToConfigTree(flags: AgentFlags): Record<string, unknown> {
  const tree: Record<string, Record<string, unknown>> = { agent: {}, net: {}, log: {} };
  if (flags.dataDir) tree.agent!.dataDir = flags.dataDir;
  if (flags.socket) tree.agent!.socket = flags.socket;
  if (flags.listen?.length) tree.net!.listen = flags.listen;
  if (flags.join?.length) tree.net!.join = flags.join;
  if (flags.networkKey) tree.net!.networkKey = flags.networkKey;
  if (flags.logLevel) tree.log!.level = flags.logLevel;
  return tree;
}

export function collect(value: string, previous: string[] = []): string[] {
  return [...previous, value];
}
