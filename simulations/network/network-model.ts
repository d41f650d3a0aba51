import type { Rng } from '../../src/core/index.ts';
import type { Topology } from './topology.ts';

/**
 * The virtual network between simulated hosts: one-way latency by topology class with
 * jitter, random loss, a per-host uplink that serialises what the host sends (so a burst
 * queues, and the backlog is the host's send-queue depth), and partitions. It holds one
 * number per host and allocates nothing per message.
 */
export interface NetworkOptions {
  sameRackMs: number;
  sameZoneMs: number;
  crossZoneMs: number;
  crossRegionMs: number;
  /** Extra latency drawn uniformly in [0, jitterFraction × base). */
  jitterFraction: number;
  /** Probability that one message copy is lost on the wire. */
  lossRate: number;
  /**
   * What a loss does. `retransmit`: the copy arrives late, after TCP's retransmission timeout
   * (every Shoal message rides a TCP stream: loss shows as delay). `drop`: it never arrives
   * (a queue overflow, or to stress the protocol's own repair).
   */
  lossMode: 'retransmit' | 'drop';
  /** Minimum retransmission timeout (Linux: 200 ms); a retransmitted copy waits max(this, 3 × latency) more. */
  retransmitMinMs: number;
  /** Per-host uplink; sends queue behind each other at this rate. */
  uplinkBytesPerS: number;
}

export const defaultNetworkOptions: NetworkOptions = {
  sameRackMs: 0.1, // ms one way; one ToR switch plus the kernel stacks
  sameZoneMs: 0.25, // ms; spine hop inside a datacenter
  crossZoneMs: 1.0, // ms; typical inter-AZ one-way latency within a region
  crossRegionMs: 35, // ms; continental one-way latency between regions
  jitterFraction: 0.3, // fraction; queueing in switches adds up to ~30% on a busy fabric
  lossRate: 0, // probability; scenarios turn it on explicitly
  lossMode: 'retransmit', // libp2p runs over TCP: a lost segment is resent, not gone
  retransmitMinMs: 200, // ms; Linux TCP_RTO_MIN
  uplinkBytesPerS: 125_000_000, // bytes/s; a 1 Gbit/s management NIC
};

/** Sentinel arrival time of a copy that never arrives (lost or partitioned). */
export const LOST = -1;

export class NetworkModel {
  readonly opts: NetworkOptions;
  private readonly rackOf: Int32Array;
  private readonly racksPerZone: number;
  private readonly zonesPerRegion: number;
  private readonly rng: Rng;
  /** When each host's uplink is free again (ms). */
  private readonly uplinkFreeAtMs: Float64Array;
  private readonly bytesPerMs: number;
  /** Partition group per host; hosts in different groups cannot reach each other. Null: no partition. */
  private partitionGroup: Int32Array | null = null;
  /** Copies hit by loss (dropped or delayed, by lossMode), and copies stopped by partitions. */
  lostCopies = 0;
  partitionedCopies = 0;

  constructor(opts: NetworkOptions, modules: { topology: Topology; rng: Rng; hostCapacity: number }) {
    this.opts = opts;
    this.rackOf = modules.topology.rackOf;
    this.racksPerZone = modules.topology.opts.racksPerZone;
    this.zonesPerRegion = modules.topology.opts.zonesPerRegion;
    this.rng = modules.rng;
    this.uplinkFreeAtMs = new Float64Array(modules.hostCapacity);
    this.bytesPerMs = opts.uplinkBytesPerS / 1000;
  }

  /** Base one-way latency between two hosts, before jitter. Zone and region follow from the global rack id (one array read per host). */
  baseLatencyMs(a: number, b: number): number {
    const ra = this.rackOf[a]!;
    const rb = this.rackOf[b]!;
    if (ra === rb) return this.opts.sameRackMs;
    const za = (ra / this.racksPerZone) | 0;
    const zb = (rb / this.racksPerZone) | 0;
    if (za === zb) return this.opts.sameZoneMs;
    const ga = (za / this.zonesPerRegion) | 0;
    const gb = (zb / this.zonesPerRegion) | 0;
    if (ga === gb) return this.opts.crossZoneMs;
    return this.opts.crossRegionMs;
  }

  reachable(a: number, b: number): boolean {
    const g = this.partitionGroup;
    return g === null || g[a] === g[b];
  }

  /**
   * Sends `bytes` from `a` to `b` at `nowMs`: queues on a's uplink, then travels. Returns the
   * arrival time, or LOST. The uplink is charged even for a copy that is then lost.
   */
  transmit(a: number, b: number, bytes: number, nowMs: number): number {
    if (!this.reachable(a, b)) {
      this.partitionedCopies++;
      return LOST;
    }
    const free = this.uplinkFreeAtMs[a]!;
    const departMs = (free > nowMs ? free : nowMs) + bytes / this.bytesPerMs;
    this.uplinkFreeAtMs[a] = departMs;
    const base = this.baseLatencyMs(a, b);
    let arrival = departMs + base + base * this.opts.jitterFraction * this.rng.next();
    if (this.opts.lossRate > 0 && this.rng.next() < this.opts.lossRate) {
      this.lostCopies++;
      if (this.opts.lossMode === 'drop') return LOST;
      arrival += Math.max(this.opts.retransmitMinMs, 3 * base);
    }
    return arrival;
  }

  /** One-way latency with jitter but no uplink charge: for control traffic that is modelled in aggregate. */
  latencyMs(a: number, b: number): number {
    const base = this.baseLatencyMs(a, b);
    return base + base * this.opts.jitterFraction * this.rng.next();
  }

  /** Bytes waiting in a's uplink at `nowMs`: the host's send-queue depth. */
  uplinkBacklogBytes(a: number, nowMs: number): number {
    const free = this.uplinkFreeAtMs[a]!;
    return free > nowMs ? (free - nowMs) * this.bytesPerMs : 0;
  }

  /** Splits hosts into groups that cannot reach each other; `null` heals. */
  setPartition(groupOfHost: Int32Array | null): void {
    this.partitionGroup = groupOfHost;
  }

  get partitioned(): boolean {
    return this.partitionGroup !== null;
  }
}
