import type { Command } from 'commander';
import { formatAge, formatResources, printJson, printTable } from '../output.ts';
import { clientCommand, withClient, type ClientFlags } from './client-command.ts';
import { shortPeer } from './jobs.ts';

interface Cell {
  cell: number;
  cellBits: number;
  own: boolean;
  members: number;
  reporter: string;
  ageMs: number;
  free: { vcpus: number; memoryMiB: number; diskGiB: number };
  zones: string[];
  contacts: string[];
}

export function cellsCommand(): Command {
  return clientCommand('cells', 'list every cell this agent knows, from the summaries gossip carries').action(async (flags: ClientFlags) => {
    const { data } = await withClient(flags, (c) => c.call<Cell[]>('GET', '/v1/agent/cells'));
    if (flags.json) return printJson(data);
    printTable(
      data.map((c) => ({
        CELL: `${c.cell}/${c.cellBits}${c.own ? '*' : ''}`,
        MEMBERS: c.members,
        FREE: formatResources(c.free),
        ZONES: c.zones.join(','),
        REPORTER: shortPeer(c.reporter),
        AGE: formatAge(c.ageMs),
      })),
      ['CELL', 'MEMBERS', 'FREE', 'ZONES', 'REPORTER', 'AGE'],
    );
  });
}
