/** A resource vector. Units are in the names; disk is whole GiB, memory whole MiB. */
export interface Resources {
  readonly vcpus: number;
  readonly memoryMiB: number;
  readonly diskGiB: number;
}

export const ZERO_RESOURCES: Resources = Object.freeze({ vcpus: 0, memoryMiB: 0, diskGiB: 0 });

export function addResources(a: Resources, b: Resources): Resources {
  return { vcpus: a.vcpus + b.vcpus, memoryMiB: a.memoryMiB + b.memoryMiB, diskGiB: a.diskGiB + b.diskGiB };
}

export function subtractResources(a: Resources, b: Resources): Resources {
  return { vcpus: a.vcpus - b.vcpus, memoryMiB: a.memoryMiB - b.memoryMiB, diskGiB: a.diskGiB - b.diskGiB };
}

/** True when `want` fits inside `free` on every axis. */
export function fitsIn(want: Resources, free: Resources): boolean {
  return want.vcpus <= free.vcpus && want.memoryMiB <= free.memoryMiB && want.diskGiB <= free.diskGiB;
}

/** The axes on which `want` exceeds `free`, for error messages ("memoryMiB: need 65536, free 4096"). */
export function shortfalls(want: Resources, free: Resources): string[] {
  const out: string[] = [];
  for (const axis of ['vcpus', 'memoryMiB', 'diskGiB'] as const) {
    if (want[axis] > free[axis]) out.push(`${axis}: need ${want[axis]}, free ${free[axis]}`);
  }
  return out;
}
