import type { Command } from 'commander';
import { printJson } from '../output.ts';
import { clientCommand, withClient, type ClientFlags } from './client-command.ts';

export function infoCommand(): Command {
  return clientCommand('info', 'show this agent: identity, version, capacity, and gossip counters').action(async (flags: ClientFlags) => {
    const [self, stats] = await withClient(flags, (c) => Promise.all([c.call<Record<string, unknown>>('GET', '/v1/agent/self'), c.call<Record<string, unknown>>('GET', '/v1/agent/stats')]));
    if (flags.json) return printJson({ ...self.data, stats: stats.data });
    printSections({ agent: pick(self.data, ['id', 'name', 'cluster', 'version', 'incarnation', 'zone', 'region', 'draining', 'socket', 'dataDir']), capacity: self.data.capacity, stats: stats.data });
  });
}

function pick(obj: Record<string, unknown>, keys: string[]): Record<string, unknown> {
  return Object.fromEntries(keys.filter((k) => k in obj).map((k) => [k, obj[k]]));
}

/** `consul info` style: a section per subsystem, `key = value` lines. */
function printSections(sections: Record<string, unknown>): void {
  const out: string[] = [];
  for (const [name, value] of Object.entries(sections)) {
    out.push(`${name}:`);
    for (const [k, v] of Object.entries((value ?? {}) as Record<string, unknown>)) {
      out.push(`\t${k} = ${typeof v === 'object' && v !== null ? JSON.stringify(v) : String(v)}`);
    }
  }
  process.stdout.write(out.join('\n') + '\n');
}
