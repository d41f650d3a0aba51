import type { Millis } from '../core/clock.ts';
import type { PeerIdStr } from '../core/transport.ts';
import { BucketTotals } from '../gossip/bucket-totals.ts';
import type { CellBucket, CellSummary } from '../gossip/records.ts';

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

/**
 * One pass over the cell summaries: O(cells × buckets). Runs once per exchange interval on a
 * gateway, never per message.
 */
export function summarizeCluster(input: SummarizeClusterInput): ClusterSummary {
  const totals = new Map<string, BucketTotals>();
  let hosts = 0;
  let cells = 0;
  for (const s of input.cells) {
    if (s.cluster !== input.cluster || s.issuedAtMs + input.maxCellAgeMs < input.now) continue;
    cells++;
    hosts += s.members;
    for (const b of s.buckets) {
      const key = `${b.zone}|${b.drivers.join(',')}`;
      let t = totals.get(key);
      if (t === undefined) {
        if (totals.size >= MAX_CLUSTER_BUCKETS) continue;
        t = new BucketTotals(b.zone, b.drivers);
        totals.set(key, t);
      }
      t.addBucket(b);
    }
  }
  const buckets = [...totals.values()].map((t) => t.toBucket());
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
