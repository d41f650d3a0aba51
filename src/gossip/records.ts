import type { DriverName, Millis, PeerIdStr, Resources } from '../core/index.ts';
import type { LabelFilter } from './label-filter.ts';

/**
 * The state that travels on gossip topics. Records are immutable values: a newer record
 * replaces an older one whole, and the simulator shares one decoded record among every node
 * that holds it.
 */

/** What a host says about itself; full records travel only inside its cell. */
export interface HostRecord {
  readonly origin: PeerIdStr;
  /** Bumped on every restart (persisted) and on every refutation of a suspicion. */
  readonly incarnation: number;
  /** Bumped on every new version within an incarnation. (incarnation, seq) orders versions. */
  readonly seq: number;
  readonly cluster: string;
  readonly zone: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly drivers: readonly DriverName[];
  /** Allocatable capacity: physical × overcommit ratio − reserved for the host itself. */
  readonly capacity: Resources;
  /** Capacity minus reservations of admitted jobs. */
  readonly free: Resources;
  /** Anti-affinity groups with a job on this host (bounded; admission re-checks authoritatively). */
  readonly antiAffinityGroups: readonly string[];
  readonly jobs: number;
  /** Self-reported health: `degraded` hosts take no new placements. */
  readonly health: 'ok' | 'degraded';
  readonly draining: boolean;
  /** Multiaddrs to dial this host on. */
  readonly addrs: readonly string[];
}

/** An observer's opinion of a member, per SWIM: alive → suspect → failed, or left on a graceful leave. */
export type MemberStatus = 'alive' | 'suspect' | 'failed' | 'left';

/** A host record as one observer holds it. */
export interface MemberView {
  readonly record: HostRecord;
  readonly status: MemberStatus;
  /** The observer's clock when it last learned something new about this member. */
  readonly updatedAtMs: Millis;
}

/**
 * Standard VM shapes that summaries count fits for, smallest first. They follow the common
 * cloud size ladder (1/2/4/8/16/32 vCPUs at 2–4 GiB per vCPU), so a router can tell from a
 * summary whether a cell can take a job without seeing its hosts.
 */
export const SUMMARY_SHAPES: readonly Resources[] = Object.freeze([
  { vcpus: 1, memoryMiB: 1024, diskGiB: 10 },
  { vcpus: 2, memoryMiB: 4096, diskGiB: 20 },
  { vcpus: 4, memoryMiB: 8192, diskGiB: 40 },
  { vcpus: 8, memoryMiB: 16384, diskGiB: 80 },
  { vcpus: 16, memoryMiB: 65536, diskGiB: 160 },
  { vcpus: 32, memoryMiB: 131072, diskGiB: 320 },
]);

/** Free capacity of a cell's placeable hosts (alive, healthy, not draining) that share a zone and driver set. */
export interface CellBucket {
  readonly zone: string;
  readonly drivers: readonly DriverName[];
  readonly hosts: number;
  /** Per SUMMARY_SHAPES index: how many hosts can take one more job of that shape (saturates at 65535). */
  readonly fits: readonly number[];
  /** Per-axis maximum of free capacity over the bucket's hosts (the axes may come from different hosts). */
  readonly maxFree: Resources;
  readonly totalFree: Resources;
  readonly totalCapacity: Resources;
  /** `key=value` host labels present in the bucket, as a Bloom filter (label-filter.ts). */
  readonly labelFilter: LabelFilter;
}

export interface Contact {
  readonly peer: PeerIdStr;
  readonly addrs: readonly string[];
}

/** An aggregate a cell publishes about itself; summaries travel between cells, full host records do not. */
export interface CellSummary {
  readonly cluster: string;
  /** The cell id: the first `cellBits` bits of hash32(peer id). */
  readonly cell: number;
  readonly cellBits: number;
  /** The member that computed this summary (its signature covers it). */
  readonly reporter: PeerIdStr;
  /** Reporter's clock when issued: the newest summary of a cell wins; far-future ones are rejected. */
  readonly issuedAtMs: Millis;
  /** Members the reporter believes alive (including draining and degraded ones). */
  readonly members: number;
  readonly buckets: readonly CellBucket[];
  /** A few members that accept routed placements for this cell. */
  readonly contacts: readonly Contact[];
}
