import type { JobSpec, Millis, PeerIdStr, ProtocolNode, Resources, Rng } from '../../src/core/index.ts';
import type { MemberStatus } from '../../src/gossip/records.ts';
import type { Histogram } from '../metrics/histogram.ts';
import type { HostContext, World } from '../world/world.ts';
import type { Truth } from './truth.ts';

/** What the run tells a host model when it binds it to the world. */
export interface RunHooks {
  /** A host's protocol reports that `observer` now sees `peer` as `status` (was `previous`). */
  memberEvent(observer: number, peer: PeerIdStr, status: MemberStatus, previous: MemberStatus | null, atMs: Millis): void;
}

/** Outcome of one placement request, as the run scores it. */
export interface PlacementResult {
  readonly type: 'placed' | 'refused' | 'failed';
  readonly jobId?: string;
  readonly host?: PeerIdStr;
  readonly duplicate?: boolean;
  /** Asks (admit/route) spent, the first included. */
  readonly asks: number;
  readonly code?: string;
}

/** The placement side of a host model, for the load generator and the end-of-run audit. */
export interface PlacementDriver {
  submit(entry: number, spec: JobSpec, nowMs: Millis, done: (r: PlacementResult, atMs: Millis) => void): void;
  /** The job ended: its host releases the reservation (the agent does this when a VM is deleted). False when unknown. */
  release(host: PeerIdStr, jobId: string, nowMs: Millis): boolean;
  /** Every host's capacity and reservations (for the overcommit/duplicate audit and best-fit). */
  audit(): PlacementAudit;
}

export interface PlacementAudit {
  /** Per host (index order): allocatable capacity, or null for hosts that never ran. */
  readonly capacity: (Resources | null)[];
  /** Hosts whose reservations exceed capacity on some axis. */
  readonly overcommittedHosts: number;
  /** Idempotency keys reserved on more than one host, or twice on one. */
  readonly duplicateJobs: number;
  /** Keys running twice where a live copy was placed by a move (recovery, drain), when the model knows. */
  readonly duplicateKeysFromMoves?: number;
  /** Hosts holding at least one reservation. */
  readonly hostsUsed: number;
  /** Reservations held, in the order they were admitted (resources only). */
  readonly jobs: Resources[];
  readonly reservedVcpus: number;
  readonly capacityVcpus: number;
}

/** A bit-flipped copy of a real message, put on the wire by its own publisher. */
export interface CorruptInjection {
  readonly host: number;
  readonly topic: string;
  /** Whether the codec rejected the flipped bytes before any protocol code ran. */
  readonly decodeRejected: boolean;
  readonly bit: number;
}

/**
 * A protocol under simulation, seen by the run: how to build one host's node, and how to
 * read what the run measures out of it. Implementations only adapt; they never reimplement
 * protocol logic (DESIGN.md decision 1).
 */
export interface HostModel<N extends ProtocolNode = ProtocolNode> {
  readonly protocol: string;
  topicKindOf(topic: string): string;
  build(ctx: HostContext): N;
  bind(world: World<N>, truth: Truth, hooks: RunHooks): void;
  /** Whether `host`'s view matches the truth now (membership of its cell, other cells known). */
  viewCorrect(host: number, node: N, nowMs: Millis, rng: Rng): boolean;
  /**
   * Adds how stale `host`'s copies of its cell mates' records are (behind the newest published
   * version), how long its view of their free capacity has been significantly wrong, and how
   * old its cell summaries are.
   */
  sampleFreshness?(host: number, node: N, nowMs: Millis, recordStalenessMs: Histogram, summaryAgeMs: Histogram, capacityStalenessMs: Histogram): void;
  /** The protocol's own send-queue depth at `host` (messages), when it reports one. */
  queueDepth?(host: number, node: N): number;
  injectCorrupt?(nowMs: Millis, rng: Rng, topicKind: string): CorruptInjection | null;
  /** Changes `host`'s free capacity as a workload would (drives record and summary updates). */
  driftCapacity?(host: number, node: N, nowMs: Millis, rng: Rng): void;
  readonly placement?: PlacementDriver;
  /** Hosts join through seeds of their own group (a federated world's cluster); one group when absent. */
  groupOf?(host: number): number;
  /** Protocol-specific figures for the report (by stable snake_case name). */
  finalMetrics?(): Record<string, number | null>;
}
