import type { Resources } from '../core/resources.ts';

export interface BestFitOptions {
  /**
   * `arrival`: jobs in the given order, as a central online scheduler would see them (default).
   * `decreasing`: largest first (best-fit decreasing), the stronger offline baseline.
   */
  readonly order?: 'arrival' | 'decreasing';
  /** Grid resolution per axis of the host index; more cells, shorter scans. */
  readonly grid?: number;
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
 * largest unused host only when no used one fits. "Fullest" is the smallest sum over axes of
 * free capacity normalised by the largest host's capacity on that axis.
 *
 * Used hosts sit in a grid by normalised free vCPUs × free memory. A job scans only cells at
 * or above its own demand on both axes, in order of their lowest possible key, and stops once
 * that bound reaches the best key found: exact best fit, without scanning hosts that are full
 * on an axis the job needs. Fast enough for the simulator's 100k hosts.
 */
export function bestFitPack(hosts: readonly Resources[], jobs: readonly Resources[], opts: BestFitOptions = {}): BestFitResult {
  const n = hosts.length;
  const g = Math.max(4, Math.floor(opts.grid ?? 32));
  let refV = 1;
  let refM = 1;
  let refD = 1;
  for (const h of hosts) {
    refV = Math.max(refV, h.vcpus);
    refM = Math.max(refM, h.memoryMiB);
    refD = Math.max(refD, h.diskGiB);
  }
  const keyOf = (v: number, m: number, d: number): number => v / refV + m / refM + d / refD;
  const cellOf = (x: number, ref: number): number => Math.min(g - 1, Math.max(0, Math.floor((x / ref) * g)));

  const freeV = new Float64Array(n);
  const freeM = new Float64Array(n);
  const freeD = new Float64Array(n);
  const cellIndex = new Int32Array(n).fill(-1);
  const slot = new Int32Array(n);
  const cells: number[][] = Array.from({ length: g * g }, () => []);
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
    const c = cellOf(freeV[h]!, refV) * g + cellOf(freeM[h]!, refM);
    cellIndex[h] = c;
    slot[h] = cells[c]!.length;
    cells[c]!.push(h);
  };
  const unindex = (h: number): void => {
    const list = cells[cellIndex[h]!]!;
    const last = list.pop()!;
    if (last !== h) {
      list[slot[h]!] = last;
      slot[last] = slot[h]!;
    }
    cellIndex[h] = -1;
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
    const jv = cellOf(j.vcpus, refV);
    const jm = cellOf(j.memoryMiB, refM);
    let best = -1;
    let bestKey = Infinity;
    // Cells on one anti-diagonal (a + b = s) share the lower bound s / g of their hosts' keys.
    for (let s = jv + jm; s <= 2 * g - 2; s++) {
      if (s / g >= bestKey) break;
      const aHi = Math.min(g - 1, s - jm);
      for (let a = Math.max(jv, s - (g - 1)); a <= aHi; a++) {
        for (const h of cells[a * g + (s - a)]!) {
          if (!fits(h, j)) continue;
          const k = keyOf(freeV[h]!, freeM[h]!, freeD[h]!);
          if (k < bestKey || (k === bestKey && h < best)) {
            best = h;
            bestKey = k;
          }
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
