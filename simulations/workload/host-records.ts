import type { DriverName, PeerIdStr, Resources } from '../../src/core/index.ts';
import type { HostRecord } from '../../src/gossip/records.ts';

export const SIM_CLUSTER = 'sim';

/** Drivers every simulated hypervisor host offers. */
export const SIM_DRIVERS: readonly DriverName[] = Object.freeze(['qemu', 'process'] as DriverName[]);

/** A simulated host's own record at boot, shaped like a real agent's (addresses included, for realistic sizes). */
export function initialHostRecord(args: { index: number; self: PeerIdStr; incarnation: number; zone: string; rack: number; capacity: Resources }): HostRecord {
  const i = args.index;
  return {
    origin: args.self,
    incarnation: args.incarnation,
    seq: 0,
    cluster: SIM_CLUSTER,
    zone: args.zone,
    labels: { rack: `rk${args.rack}` },
    drivers: SIM_DRIVERS,
    capacity: args.capacity,
    free: args.capacity,
    antiAffinityGroups: [],
    jobs: 0,
    health: 'ok',
    draining: false,
    addrs: [`/ip4/10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}/tcp/4001`],
  };
}
