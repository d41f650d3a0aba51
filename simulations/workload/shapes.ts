import type { Resources, Rng } from '../../src/core/index.ts';

/**
 * VM and host shapes for the placement load.
 *
 * `azure-2019`: the size buckets of the Azure public VM trace (AzurePublicDatasetV2, 2019:
 * `vmcorecountbucket` 2 / 4 / 8 / 24 / >24, `vmmemorybucket` 2 / 4 / 8 / 32 / 64 / >64 GB;
 * see github.com/Azure/AzurePublicDataset, AzurePublicDatasetV2.md and its analysis
 * notebook, which maps >24 cores to 30 and >64 GB to 70). The trace publishes the buckets;
 * the notebook shows their frequencies only as charts, so the weights below are OUR reading
 * of that skew (small VMs dominate: most VMs have 2–4 cores), not figures copied from it.
 * Disks follow the common 32–256 GiB OS/data disk sizes.
 *
 * `ladder`: the AWS general-purpose ladder (m5.large … m5.8xlarge: 2–32 vCPUs at 4 GiB per
 * vCPU) with weights halving per step up.
 */
export interface WeightedShape {
  readonly shape: Resources;
  readonly weight: number;
}

const GiB = 1024;

export const VM_SHAPE_MIXES: Readonly<Record<'azure-2019' | 'ladder', readonly WeightedShape[]>> = {
  'azure-2019': [
    { shape: { vcpus: 2, memoryMiB: 2 * GiB, diskGiB: 32 }, weight: 0.06 },
    { shape: { vcpus: 2, memoryMiB: 4 * GiB, diskGiB: 32 }, weight: 0.36 },
    { shape: { vcpus: 2, memoryMiB: 8 * GiB, diskGiB: 64 }, weight: 0.1 },
    { shape: { vcpus: 4, memoryMiB: 8 * GiB, diskGiB: 64 }, weight: 0.14 },
    { shape: { vcpus: 4, memoryMiB: 32 * GiB, diskGiB: 128 }, weight: 0.08 },
    { shape: { vcpus: 8, memoryMiB: 32 * GiB, diskGiB: 128 }, weight: 0.14 },
    { shape: { vcpus: 24, memoryMiB: 64 * GiB, diskGiB: 256 }, weight: 0.08 },
    { shape: { vcpus: 30, memoryMiB: 70 * GiB, diskGiB: 256 }, weight: 0.04 },
  ],
  ladder: [
    { shape: { vcpus: 2, memoryMiB: 8 * GiB, diskGiB: 32 }, weight: 0.4 },
    { shape: { vcpus: 4, memoryMiB: 16 * GiB, diskGiB: 64 }, weight: 0.25 },
    { shape: { vcpus: 8, memoryMiB: 32 * GiB, diskGiB: 128 }, weight: 0.18 },
    { shape: { vcpus: 16, memoryMiB: 64 * GiB, diskGiB: 256 }, weight: 0.11 },
    { shape: { vcpus: 32, memoryMiB: 128 * GiB, diskGiB: 512 }, weight: 0.06 },
  ],
};

/**
 * Hypervisor hosts: physical cores, memory and disk of common 2-socket servers (64, 96 and
 * 128 cores with 8 GiB per core; 3.84 or 7.68 TB of NVMe). Capacity offered to placement is
 * cores × the CPU overcommit ratio, memory minus 16 GiB kept for the host itself, disk as is.
 */
export interface HostShape {
  readonly cores: number;
  readonly memoryMiB: number;
  readonly diskGiB: number;
  readonly weight: number;
}

export const HOST_SHAPE_MIXES: Readonly<Record<'mixed' | 'uniform', readonly HostShape[]>> = {
  mixed: [
    { cores: 64, memoryMiB: 512 * GiB, diskGiB: 3576, weight: 0.6 },
    { cores: 96, memoryMiB: 768 * GiB, diskGiB: 7152, weight: 0.3 },
    { cores: 128, memoryMiB: 1024 * GiB, diskGiB: 7152, weight: 0.1 },
  ],
  uniform: [{ cores: 64, memoryMiB: 512 * GiB, diskGiB: 3576, weight: 1 }],
};

const HOST_RESERVED_MEMORY_MIB = 16 * GiB;

export function hostCapacity(shape: HostShape, cpuOvercommit: number): Resources {
  return { vcpus: Math.floor(shape.cores * cpuOvercommit), memoryMiB: shape.memoryMiB - HOST_RESERVED_MEMORY_MIB, diskGiB: shape.diskGiB };
}

/** Draws from a weighted list with one uniform number. */
export function pickWeighted<T extends { readonly weight: number }>(items: readonly T[], rng: Rng): T {
  let total = 0;
  for (const it of items) total += it.weight;
  let u = rng.next() * total;
  for (const it of items) {
    u -= it.weight;
    if (u < 0) return it;
  }
  return items[items.length - 1]!;
}

/** Mean vCPUs of a mix (to size the load). */
export function meanVcpus(mix: readonly WeightedShape[]): number {
  let total = 0;
  let w = 0;
  for (const s of mix) {
    total += s.shape.vcpus * s.weight;
    w += s.weight;
  }
  return total / w;
}
