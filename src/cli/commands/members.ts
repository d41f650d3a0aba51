import type { Command } from 'commander';
import { formatAge, formatResources, printJson, printTable } from '../output.ts';
import { clientCommand, withClient, type ClientFlags } from './client-command.ts';
import { shortPeer } from './jobs.ts';

interface Member {
  id: string;
  name?: string;
  status: string;
  cell?: number;
  zone?: string;
  incarnation?: number;
  capacity?: { vcpus: number; memoryMiB: number; diskGiB: number };
  free?: { vcpus: number; memoryMiB: number; diskGiB: number };
  ageMs?: number;
  draining?: boolean;
  addrs?: string[];
  drivers?: string[];
  labels?: Record<string, string>;
}

export function membersCommand(): Command {
  return clientCommand('members', 'list the hosts this agent knows, with their state, cell, capacity and the age of that information')
    .option('--status <status>', 'only members in this state (alive, suspect, failed, left)')
    .option('--detailed', 'show incarnation, drivers, labels and addresses')
    .action(async (flags: ClientFlags & { status?: string; detailed?: boolean }) => {
      const query = flags.status ? `?status=${encodeURIComponent(flags.status)}` : '';
      const { data } = await withClient(flags, (c) => c.call<Member[]>('GET', `/v1/agent/members${query}`));
      if (flags.json) return printJson(data);
      const rows = data.map((m) => ({
        NAME: m.name ?? '-',
        ID: flags.detailed ? m.id : shortPeer(m.id),
        STATUS: m.status + (m.draining ? ' (draining)' : ''),
        CELL: m.cell,
        ZONE: m.zone,
        CAPACITY: formatResources(m.capacity),
        FREE: formatResources(m.free),
        AGE: formatAge(m.ageMs),
        INC: m.incarnation,
        DRIVERS: m.drivers?.join(','),
        LABELS: m.labels ? Object.entries(m.labels).map(([k, v]) => `${k}=${v}`).join(',') : undefined,
        ADDRS: m.addrs?.join(','),
      }));
      const columns = ['NAME', 'ID', 'STATUS', 'CELL', 'ZONE', 'CAPACITY', 'FREE', 'AGE'];
      printTable(rows, flags.detailed ? [...columns, 'INC', 'DRIVERS', 'LABELS', 'ADDRS'] : columns);
    });
}
