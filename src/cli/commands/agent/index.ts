import { Command, Option } from 'commander';
import { collect, type AgentFlags } from './options.ts';

export function agentCommand(): Command {
  return new Command('agent')
    .description('run the Shoal agent on this host (embedded defaults; see README for the config file)')
    .option('--config <file>', 'TOML configuration file')
    .option('--data-dir <dir>', 'durable state directory (default /var/lib/shoal as root, ./.shoal/data otherwise)')
    .option('--socket <path>', 'API socket (default /run/shoal/shoal.sock as root, ./.shoal/shoal.sock otherwise)')
    .option('--listen <multiaddr>', 'libp2p listen address (repeatable)', collect)
    .option('--join <multiaddr>', 'peer to join at start (repeatable)', collect)
    .option('--network-key <file>', 'private-network key file from `shoal keygen`')
    .addOption(new Option('--log-level <level>', 'log level').choices(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']))
    .option('--check-config', 'validate the configuration, print it, and exit')
    // Loaded on use: client commands should not pay for the agent's imports.
    .action(async (flags: AgentFlags) => (await import('./handler.ts')).runAgent(flags));
}
