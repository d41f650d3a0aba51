import { JobSpecSchema, type DriverName, type JobSpec, type JobSpecInput } from '../../../src/core/job.ts';
import { fitsIn, type Resources } from '../../../src/core/resources.ts';
import type { PeerIdStr } from '../../../src/core/transport.ts';
import { labelFilterOf } from '../../../src/gossip/label-filter.ts';
import { SUMMARY_SHAPES, type CellBucket, type CellSummary, type HostRecord, type MemberStatus, type MemberView } from '../../../src/gossip/records.ts';

/** Test fixtures for placement: specs, host records, member views and cell summaries. */

export function spec(overrides: Partial<JobSpecInput> = {}): JobSpec {
  return JobSpecSchema.parse({
    name: 'job',
    kind: 'vm',
    resources: { vcpus: 1, memoryMiB: 1024, diskGiB: 0 },
    ...overrides,
  });
}

export interface RecordInit {
  zone?: string;
  cluster?: string;
  labels?: Record<string, string>;
  drivers?: DriverName[];
  capacity?: Resources;
  free?: Resources;
  antiAffinityGroups?: string[];
  health?: 'ok' | 'degraded';
  draining?: boolean;
  seq?: number;
}

export const HOST_CAPACITY: Resources = Object.freeze({ vcpus: 32, memoryMiB: 131072, diskGiB: 1000 });

export function record(origin: PeerIdStr, init: RecordInit = {}): HostRecord {
  const capacity = init.capacity ?? HOST_CAPACITY;
  return {
    origin,
    incarnation: 1,
    seq: init.seq ?? 1,
    cluster: init.cluster ?? 'default',
    zone: init.zone ?? 'a',
    labels: init.labels ?? {},
    drivers: init.drivers ?? ['qemu', 'process', 'fake'],
    capacity,
    free: init.free ?? capacity,
    antiAffinityGroups: init.antiAffinityGroups ?? [],
    jobs: 0,
    health: init.health ?? 'ok',
    draining: init.draining ?? false,
    addrs: [`/ip4/127.0.0.1/tcp/1/p2p/${origin}`],
  };
}

export function member(rec: HostRecord, status: MemberStatus = 'alive', updatedAtMs = 0): MemberView {
  return { record: rec, status, updatedAtMs };
}

/** What a gossip reporter would publish for a cell: buckets by zone and driver set over placeable members. */
export function summarize(cell: number, cellBits: number, members: Iterable<MemberView>, issuedAtMs: number, contactCount = 3): CellSummary {
  const buckets = new Map<string, { zone: string; drivers: DriverName[]; hosts: number; fits: number[]; maxFree: Resources; totalFree: Resources; totalCapacity: Resources; labels: Set<string> }>();
  const contacts: { peer: PeerIdStr; addrs: readonly string[] }[] = [];
  let alive = 0;
  let reporter = '';
  for (const m of members) {
    if (m.status !== 'alive') continue;
    alive++;
    const r = m.record;
    if (reporter === '') reporter = r.origin;
    if (contacts.length < contactCount) contacts.push({ peer: r.origin, addrs: r.addrs });
    if (r.health !== 'ok' || r.draining) continue;
    const k = `${r.zone}|${[...r.drivers].sort().join(',')}`;
    let b = buckets.get(k);
    if (b === undefined) {
      b = {
        zone: r.zone,
        drivers: [...r.drivers].sort(),
        hosts: 0,
        fits: SUMMARY_SHAPES.map(() => 0),
        maxFree: { vcpus: 0, memoryMiB: 0, diskGiB: 0 },
        totalFree: { vcpus: 0, memoryMiB: 0, diskGiB: 0 },
        totalCapacity: { vcpus: 0, memoryMiB: 0, diskGiB: 0 },
        labels: new Set(),
      };
      buckets.set(k, b);
    }
    b.hosts++;
    SUMMARY_SHAPES.forEach((s, i) => {
      if (fitsIn(s, r.free)) b.fits[i] = Math.min(65535, b.fits[i]! + 1);
    });
    b.maxFree = { vcpus: Math.max(b.maxFree.vcpus, r.free.vcpus), memoryMiB: Math.max(b.maxFree.memoryMiB, r.free.memoryMiB), diskGiB: Math.max(b.maxFree.diskGiB, r.free.diskGiB) };
    b.totalFree = { vcpus: b.totalFree.vcpus + r.free.vcpus, memoryMiB: b.totalFree.memoryMiB + r.free.memoryMiB, diskGiB: b.totalFree.diskGiB + r.free.diskGiB };
    b.totalCapacity = {
      vcpus: b.totalCapacity.vcpus + r.capacity.vcpus,
      memoryMiB: b.totalCapacity.memoryMiB + r.capacity.memoryMiB,
      diskGiB: b.totalCapacity.diskGiB + r.capacity.diskGiB,
    };
    for (const [lk, lv] of Object.entries(r.labels)) b.labels.add(`${lk}=${lv}`);
  }
  const out: CellBucket[] = [...buckets.values()].map(({ labels, ...b }) => ({ ...b, labelFilter: labelFilterOf(labels) }));
  return { cluster: 'default', cell, cellBits, reporter, issuedAtMs, members: alive, buckets: out, contacts };
}

export function peerName(i: number): PeerIdStr {
  return `peer-${String(i).padStart(3, '0')}`;
}

/** fast-check seed: FC_SEED from the environment to replay a failure, else a fresh one. Tests put it in their titles. */
export const FC_SEED: number = process.env.FC_SEED !== undefined ? Number(process.env.FC_SEED) : Date.now() % 0x7fffffff;

export function fcParams(numRuns: number): { seed: number; numRuns: number } {
  return { seed: FC_SEED, numRuns };
}
