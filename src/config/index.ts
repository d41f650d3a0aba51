export { ConfigSchema, type Config, type ConfigInput } from './schema.ts';
export { loadConfig, ConfigError, envVariables, type ConfigSources } from './load.ts';
export { agentPaths, defaultPaths, isRoot, type AgentPaths } from './paths.ts';
