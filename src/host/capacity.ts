import { ZERO_RESOURCES, addResources, subtractResources, type Resources } from '../core/resources.ts';
import type { HostFacts } from './facts.ts';

/** Overcommit ratios per axis: allocatable = physical × ratio − reserved. */
export interface OvercommitRatios {
  readonly cpu: number;
  readonly memory: number;
  readonly disk: number;
}

export interface CapacityPolicy {
  readonly overcommit: OvercommitRatios;
  readonly reserved: Resources;
  /** Replaces the detected physical capacity when set. */
  readonly physicalOverride?: Resources;
}

export function physicalCapacity(facts: HostFacts, policy: CapacityPolicy): Resources {
  return policy.physicalOverride ?? { vcpus: facts.cpuCores, memoryMiB: facts.memoryMiB, diskGiB: facts.diskGiB };
}

/** What jobs may reserve in total on this host; never negative. */
export function allocatableCapacity(physical: Resources, policy: CapacityPolicy): Resources {
  const { overcommit, reserved } = policy;
  return {
    vcpus: Math.max(0, Math.floor(physical.vcpus * overcommit.cpu - reserved.vcpus)),
    memoryMiB: Math.max(0, Math.floor(physical.memoryMiB * overcommit.memory - reserved.memoryMiB)),
    diskGiB: Math.max(0, Math.floor(physical.diskGiB * overcommit.disk - reserved.diskGiB)),
  };
}

export function sumResources(items: Iterable<Resources>): Resources {
  let total = ZERO_RESOURCES;
  for (const r of items) total = addResources(total, r);
  return total;
}

/** Allocatable minus reservations. Negative on an axis only if the host shrank under existing jobs. */
export function freeCapacity(allocatable: Resources, reservations: Iterable<Resources>): Resources {
  return subtractResources(allocatable, sumResources(reservations));
}
