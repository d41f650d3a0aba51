import type { Resources } from '../core/resources.ts';

export interface BestFitOptions {
  /**
   * `arrival`: jobs in the given order, as a central online scheduler would see them (default).
   * `decreasing`: largest first (best-fit decreasing), the stronger offline baseline.
   */
  readonly order?: 'arrival' | 'decreasing';
  /** Key buckets of the index; more buckets, shorter scans. */
  readonly buckets?: number;
}

export interface BestFitResult {
  /** Hosts holding at least one job. */
  readonly hostsUsed: number;
  readonly placed: number;
  readonly unplaced: number;
  /** Per job (input order): the index of its host, or -1. */
  readonly assignment: Int32Array;
}

/**
 * The omniscient baseline for the packing target: one central scheduler that sees every
 * host exactly and puts each job on the used host it leaves fullest (best fit), opening the
 * largest unused host only when no used one fits. "Fullest" is measured by the sum over axes
 * of free capacity normalised by the largest host's capacity on that axis.
 *
 * Used hosts are indexed in buckets of that key, so a job scans only hosts whose key can hold
 * it, lowest first; the first bucket holding a fit holds the best fit (keys in higher buckets
 * are larger). That makes it exact, and fast enough for the simulator's 100k hosts.
 */
export function bestFitPack(hosts: readonly Resources[], jobs: readonly Resources[], opts: BestFitOptions = {}): BestFitResult {
  const n = hosts.length;
  const nb = Math.max(16, opts.buckets ?? 4096);
  let refV = 1;
  let refM = 1;
  let refD = 1;
  for (const h of hosts) {
    refV = Math.max(refV, h.vcpus);
    refM = Math.max(refM, h.memoryMiB);
    refD = Math.max(refD, h.diskGiB);
  }
  const keyOf = (v: number, m: number, d: number): number => v / refV + m / refM + d / refD;
  const bucketOf = (key: number): number => Math.min(nb - 1, Math.max(0, Math.floor((key / 3) * nb)));

  const freeV = new Float64Array(n);
  const freeM = new Float64Array(n);
  const freeD = new Float64Array(n);
  const bucket = new Int32Array(n).fill(-1);
  const slot = new Int32Array(n);
  const buckets: number[][] = Array.from({ length: nb }, () => []);
  for (let i = 0; i < n; i++) {
    freeV[i] = hosts[i]!.vcpus;
    freeM[i] = hosts[i]!.memoryMiB;
    freeD[i] = hosts[i]!.diskGiB;
  }
  const unopened = Array.from({ length: n }, (_, i) => i).sort(
    (a, b) => keyOf(hosts[b]!.vcpus, hosts[b]!.memoryMiB, hosts[b]!.diskGiB) - keyOf(hosts[a]!.vcpus, hosts[a]!.memoryMiB, hosts[a]!.diskGiB) || a - b,
  );
  const opened = new Uint8Array(n);
  let firstUnopened = 0;

  const index = (h: number): void => {
    const b = bucketOf(keyOf(freeV[h]!, freeM[h]!, freeD[h]!));
    bucket[h] = b;
    slot[h] = buckets[b]!.length;
    buckets[b]!.push(h);
  };
  const unindex = (h: number): void => {
    const list = buckets[bucket[h]!]!;
    const last = list.pop()!;
    if (last !== h) {
      list[slot[h]!] = last;
      slot[last] = slot[h]!;
    }
    bucket[h] = -1;
  };
  const fits = (h: number, j: Resources): boolean => j.vcpus <= freeV[h]! && j.memoryMiB <= freeM[h]! && j.diskGiB <= freeD[h]!;

  const order = Array.from({ length: jobs.length }, (_, i) => i);
  if (opts.order === 'decreasing') {
    const k = order.map((i) => keyOf(jobs[i]!.vcpus, jobs[i]!.memoryMiB, jobs[i]!.diskGiB));
    order.sort((a, b) => k[b]! - k[a]! || a - b);
  }

  const assignment = new Int32Array(jobs.length).fill(-1);
  let placed = 0;
  let used = 0;
  for (const ji of order) {
    const j = jobs[ji]!;
    const jobKey = keyOf(j.vcpus, j.memoryMiB, j.diskGiB);
    let best = -1;
    let bestKey = Infinity;
    for (let b = bucketOf(jobKey); b < nb && best < 0; b++) {
      for (const h of buckets[b]!) {
        if (!fits(h, j)) continue;
        const k = keyOf(freeV[h]!, freeM[h]!, freeD[h]!);
        if (k < bestKey || (k === bestKey && h < best)) {
          best = h;
          bestKey = k;
        }
      }
    }
    if (best < 0) {
      while (firstUnopened < n && opened[unopened[firstUnopened]!]) firstUnopened++;
      for (let u = firstUnopened; u < n; u++) {
        const h = unopened[u]!;
        if (!opened[h] && fits(h, j)) {
          best = h;
          break;
        }
      }
      if (best < 0) continue;
      opened[best] = 1;
      used++;
    } else {
      unindex(best);
    }
    freeV[best] = freeV[best]! - j.vcpus;
    freeM[best] = freeM[best]! - j.memoryMiB;
    freeD[best] = freeD[best]! - j.diskGiB;
    index(best);
    assignment[ji] = best;
    placed++;
  }
  return { hostsUsed: used, placed, unplaced: jobs.length - placed, assignment };
}
