import { JobSpecSchema, type JobSpec, type JobSpecInput } from '../../../src/core/job.ts';
import { labelFilterOf } from '../../../src/gossip/label-filter.ts';
import { SUMMARY_SHAPES, type CellBucket, type CellSummary } from '../../../src/gossip/records.ts';
import type { ClusterSummary } from '../../../src/federation/index.ts';
import { shapeIndexFor } from '../../../src/placement/index.ts';

/** fast-check seed: FC_SEED from the environment to replay a failure, else a fresh one. Tests print it in their titles. */
export const FC_SEED: number = process.env.FC_SEED !== undefined ? Number(process.env.FC_SEED) : Date.now() % 0x7fffffff;

export function fcParams(numRuns: number): { seed: number; numRuns: number } {
  return { seed: FC_SEED, numRuns };
}

export function spec(overrides: Partial<JobSpecInput> = {}): JobSpec {
  return JobSpecSchema.parse({ name: 'job', kind: 'vm', resources: { vcpus: 1, memoryMiB: 1024, diskGiB: 0 }, idempotencyKey: 'k1', ...overrides });
}

/** A bucket of `hosts` identical hosts, each with `free` free of `cap`. */
export function bucket(init: { zone?: string; hosts: number; free: { vcpus: number; memoryMiB: number; diskGiB?: number }; cap?: { vcpus: number; memoryMiB: number; diskGiB?: number }; labels?: string[]; drivers?: CellBucket['drivers'] }): CellBucket {
  const free = { vcpus: init.free.vcpus, memoryMiB: init.free.memoryMiB, diskGiB: init.free.diskGiB ?? 100 };
  const cap = init.cap ? { vcpus: init.cap.vcpus, memoryMiB: init.cap.memoryMiB, diskGiB: init.cap.diskGiB ?? 100 } : free;
  // How many jobs of each standard shape one host could take: 1 host fits a shape when it fits its free capacity.
  const fits = SUMMARY_SHAPES.map((s) => (s.vcpus <= free.vcpus && s.memoryMiB <= free.memoryMiB && s.diskGiB <= free.diskGiB ? init.hosts : 0));
  return {
    zone: init.zone ?? 'z1',
    drivers: init.drivers ?? ['qemu'],
    hosts: init.hosts,
    fits,
    maxFree: free,
    totalFree: { vcpus: free.vcpus * init.hosts, memoryMiB: free.memoryMiB * init.hosts, diskGiB: free.diskGiB * init.hosts },
    totalCapacity: { vcpus: cap.vcpus * init.hosts, memoryMiB: cap.memoryMiB * init.hosts, diskGiB: cap.diskGiB * init.hosts },
    labelFilter: labelFilterOf(init.labels ?? []),
  };
}

export function cell(init: { cluster?: string; cell: number; members?: number; issuedAtMs?: number; buckets: CellBucket[] }): CellSummary {
  return {
    cluster: init.cluster ?? 'a',
    cell: init.cell,
    cellBits: 2,
    reporter: `host-${init.cell}-0`,
    issuedAtMs: init.issuedAtMs ?? 1_000,
    members: init.members ?? init.buckets.reduce((n, b) => n + b.hosts, 0),
    buckets: init.buckets,
    contacts: [{ peer: `host-${init.cell}-1`, addrs: ['/ip4/10.0.0.1/tcp/7946'] }],
  };
}

export function clusterSummary(cluster: string, buckets: CellBucket[], init: { region?: string; issuedAtMs?: number } = {}): ClusterSummary {
  return {
    cluster,
    region: init.region ?? 'eu',
    gateway: `gw-${cluster}`,
    issuedAtMs: init.issuedAtMs ?? 1_000,
    hosts: buckets.reduce((n, b) => n + b.hosts, 0),
    cells: 1,
    buckets,
  };
}

export { shapeIndexFor };
