import type { Millis } from '../core/clock.ts';
import type { DriverName } from '../core/job.ts';
import type { PeerIdStr } from '../core/transport.ts';
import { NO_LABELS, mergeLabelFilter, type LabelFilter } from '../gossip/label-filter.ts';
import { SUMMARY_SHAPES, type CellBucket, type CellSummary } from '../gossip/records.ts';

/**
 * What one cluster tells another about itself: free capacity by zone, driver set and
 * labels, aggregated over every cell's summary. Hosts, contacts and peer ids other than the
 * reporting gateway never cross: a remote cluster can judge whether a job fits, not where.
 * Buckets keep the shape of a cell's buckets, so placement's bucket checks apply unchanged.
 */
export interface ClusterSummary {
  readonly cluster: string;
  /** The cluster's region, as jobs name it in `constraints.region`. */
  readonly region: string;
  /** The gateway that computed it (an allowlisted identity, not a host of the cluster). */
  readonly gateway: PeerIdStr;
  /** The gateway's clock when computed; only for ordering two summaries of one cluster. */
  readonly issuedAtMs: Millis;
  /** Members the cells' reporters believe alive, draining and degraded ones included. */
  readonly hosts: number;
  /** Cells whose summaries went into this one. */
  readonly cells: number;
  readonly buckets: readonly CellBucket[];
}

/** Zone × driver-set pairs in one cluster summary; beyond it buckets are dropped (and counted). */
export const MAX_CLUSTER_BUCKETS = 64;

export interface SummarizeClusterInput {
  readonly cluster: string;
  readonly region: string;
  readonly gateway: PeerIdStr;
  readonly now: Millis;
  /** Every known cell summary (the gossip view's `cellSummaries()`); other clusters' are skipped. */
  readonly cells: Iterable<CellSummary>;
  /** Cell summaries older than this are left out: their capacity is no longer trustworthy. */
  readonly maxCellAgeMs: Millis;
}

interface Acc {
  zone: string;
  drivers: readonly DriverName[];
  hosts: number;
  fits: number[];
  maxV: number;
  maxM: number;
  maxD: number;
  freeV: number;
  freeM: number;
  freeD: number;
  capV: number;
  capM: number;
  capD: number;
  labelFilter: LabelFilter;
}

/**
 * One pass over the cell summaries: O(cells × buckets). Runs once per exchange interval on a
 * gateway, never per message.
 */
export function summarizeCluster(input: SummarizeClusterInput): ClusterSummary {
  const accs = new Map<string, Acc>();
  let hosts = 0;
  let cells = 0;
  for (const s of input.cells) {
    if (s.cluster !== input.cluster || s.issuedAtMs + input.maxCellAgeMs < input.now) continue;
    cells++;
    hosts += s.members;
    for (const b of s.buckets) {
      const key = `${b.zone}|${b.drivers.join(',')}`;
      let a = accs.get(key);
      if (a === undefined) {
        if (accs.size >= MAX_CLUSTER_BUCKETS) continue;
        a = {
          zone: b.zone,
          drivers: b.drivers,
          hosts: 0,
          fits: new Array<number>(SUMMARY_SHAPES.length).fill(0),
          maxV: 0,
          maxM: 0,
          maxD: 0,
          freeV: 0,
          freeM: 0,
          freeD: 0,
          capV: 0,
          capM: 0,
          capD: 0,
          labelFilter: NO_LABELS,
        };
        accs.set(key, a);
      }
      a.hosts += b.hosts;
      for (let i = 0; i < a.fits.length; i++) a.fits[i]! += b.fits[i] ?? 0;
      if (b.maxFree.vcpus > a.maxV) a.maxV = b.maxFree.vcpus;
      if (b.maxFree.memoryMiB > a.maxM) a.maxM = b.maxFree.memoryMiB;
      if (b.maxFree.diskGiB > a.maxD) a.maxD = b.maxFree.diskGiB;
      a.freeV += b.totalFree.vcpus;
      a.freeM += b.totalFree.memoryMiB;
      a.freeD += b.totalFree.diskGiB;
      a.capV += b.totalCapacity.vcpus;
      a.capM += b.totalCapacity.memoryMiB;
      a.capD += b.totalCapacity.diskGiB;
      a.labelFilter = mergeLabelFilter(a.labelFilter, b.labelFilter);
    }
  }
  const buckets: CellBucket[] = [];
  for (const a of accs.values()) {
    buckets.push({
      zone: a.zone,
      drivers: a.drivers,
      hosts: a.hosts,
      fits: a.fits,
      maxFree: { vcpus: a.maxV, memoryMiB: a.maxM, diskGiB: a.maxD },
      totalFree: { vcpus: a.freeV, memoryMiB: a.freeM, diskGiB: a.freeD },
      totalCapacity: { vcpus: a.capV, memoryMiB: a.capM, diskGiB: a.capD },
      labelFilter: a.labelFilter,
    });
  }
  return { cluster: input.cluster, region: input.region, gateway: input.gateway, issuedAtMs: input.now, hosts, cells, buckets };
}

/** Total free capacity of a summary (for status output). */
export function clusterFree(s: ClusterSummary): { vcpus: number; memoryMiB: number; diskGiB: number } {
  let vcpus = 0;
  let memoryMiB = 0;
  let diskGiB = 0;
  for (const b of s.buckets) {
    vcpus += b.totalFree.vcpus;
    memoryMiB += b.totalFree.memoryMiB;
    diskGiB += b.totalFree.diskGiB;
  }
  return { vcpus, memoryMiB, diskGiB };
}
