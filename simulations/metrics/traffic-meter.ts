/**
 * Per-host, per-second traffic counters. Counting is a typed-array increment; every simulated
 * second is then summarised across live hosts (mean, p50, p99, max) and the raw counts are
 * dropped, so memory stays O(hosts), not O(hosts × seconds).
 *
 * Some counts land in the future (a duplicate copy is counted when it is sent, at its arrival
 * time), so the meter keeps a ring of open seconds and finalises a second only once the
 * clock is `RING_SECONDS - 1` seconds past it.
 */
/**
 * `saved_in` is what the model's IDONTWANT kept from arriving (bytes of suppressed copies): how
 * much `bytes_in` leans on IDONTWANT working as modelled (see simulations/README.md, Calibration).
 */
export const TRAFFIC_METRICS = ['msgs_in', 'bytes_in', 'msgs_out', 'bytes_out', 'dups_in', 'ctrl_in', 'saved_in'] as const;
export type TrafficMetric = (typeof TRAFFIC_METRICS)[number];

export const MSGS_IN = 0;
export const BYTES_IN = 1;
export const MSGS_OUT = 2;
export const BYTES_OUT = 3;
export const DUPS_IN = 4;
export const CTRL_IN = 5;
export const SAVED_IN = 6;
const METRIC_COUNT = TRAFFIC_METRICS.length;
/** Counters per host and second, padded to 8 doubles: one 64-byte cache line per host-second. */
const STRIDE = 8;

/** Open seconds; a copy arriving later than this is counted in the last open second. */
const RING_SECONDS = 8;

export interface SecondStats {
  readonly second: number;
  readonly hosts: number;
  /** Per metric (TRAFFIC_METRICS order). */
  readonly mean: readonly number[];
  readonly p50: readonly number[];
  readonly p99: readonly number[];
  readonly max: readonly number[];
}

export class TrafficMeter {
  private readonly hosts: number;
  /** [(slot * hosts + host) * STRIDE + metric]: an event's updates to one host share a cache line. */
  private readonly counts: Float64Array;
  /** Per ring slot: which hosts were live when that second began (a second is summarised over them). */
  private readonly liveAt: Uint8Array;
  /** Totals over the whole run per metric, for averages. */
  readonly totals = new Float64Array(METRIC_COUNT);
  /** First second not yet finalised. */
  private openFrom = 0;
  readonly series: SecondStats[] = [];
  private readonly sampleStride: number;
  private readonly scratch: Float64Array;

  /** `quantileSampleHosts`: quantiles use every k-th live host so a 100k summary costs a 10k sort. */
  constructor(hostCapacity: number, quantileSampleHosts = 10_000) {
    this.hosts = hostCapacity;
    this.counts = new Float64Array(RING_SECONDS * hostCapacity * STRIDE);
    this.liveAt = new Uint8Array(RING_SECONDS * hostCapacity);
    this.sampleStride = Math.max(1, Math.ceil(hostCapacity / quantileSampleHosts));
    this.scratch = new Float64Array(Math.ceil(hostCapacity / this.sampleStride) + 1);
  }

  /** Index of (host, second of timeMs) in `counts`: late seconds fold into the last open one. */
  private cell(host: number, timeMs: number): number {
    let sec = Math.floor(timeMs / 1000);
    if (sec < this.openFrom) sec = this.openFrom;
    else if (sec >= this.openFrom + RING_SECONDS) sec = this.openFrom + RING_SECONDS - 1;
    return ((sec % RING_SECONDS) * this.hosts + host) * STRIDE;
  }

  add(metric: number, host: number, timeMs: number, amount: number): void {
    this.counts[this.cell(host, timeMs) + metric]! += amount;
    this.totals[metric]! += amount;
  }

  /** Counts one received copy of `bytes` (msgs_in + bytes_in). */
  received(host: number, timeMs: number, bytes: number): void {
    const c = this.cell(host, timeMs);
    this.counts[c + MSGS_IN]! += 1;
    this.counts[c + BYTES_IN]! += bytes;
    this.totals[MSGS_IN]! += 1;
    this.totals[BYTES_IN]! += bytes;
  }

  sent(host: number, timeMs: number, bytes: number): void {
    const c = this.cell(host, timeMs);
    this.counts[c + MSGS_OUT]! += 1;
    this.counts[c + BYTES_OUT]! += bytes;
    this.totals[MSGS_OUT]! += 1;
    this.totals[BYTES_OUT]! += bytes;
  }

  /**
   * Called at each second boundary: remembers which hosts are live for the second that begins
   * (dead or not-yet-started hosts would drag the mean down), and finalises every second that
   * can no longer receive counts.
   */
  advance(nowMs: number, live: Uint8Array, hostCount: number): void {
    const nowSec = Math.floor(nowMs / 1000);
    while (this.openFrom <= nowSec - RING_SECONDS + 1) this.finalise(this.openFrom++, hostCount);
    this.liveAt.set(live.subarray(0, this.hosts), (nowSec % RING_SECONDS) * this.hosts);
  }

  /** Finalises everything still open (end of run). */
  flush(endMs: number, hostCount: number): void {
    const endSec = Math.ceil(endMs / 1000);
    while (this.openFrom < endSec) this.finalise(this.openFrom++, hostCount);
  }

  private finalise(sec: number, hostCount: number): void {
    const slot = (sec % RING_SECONDS) * this.hosts;
    const live = this.liveAt.subarray(slot, slot + this.hosts);
    const mean: number[] = [];
    const p50: number[] = [];
    const p99: number[] = [];
    const max: number[] = [];
    let hosts = 0;
    for (let h = 0; h < hostCount; h++) if (live[h]) hosts++;
    const c = this.counts;
    for (let m = 0; m < METRIC_COUNT; m++) {
      let sum = 0;
      let mx = 0;
      let n = 0;
      for (let h = 0; h < hostCount; h++) {
        if (!live[h]) continue;
        const v = c[(slot + h) * STRIDE + m]!;
        sum += v;
        if (v > mx) mx = v;
        if (h % this.sampleStride === 0) this.scratch[n++] = v;
      }
      const sorted = this.scratch.subarray(0, n).sort();
      mean.push(hosts > 0 ? sum / hosts : 0);
      max.push(mx);
      p50.push(n > 0 ? sorted[Math.min(n - 1, Math.floor(0.5 * n))]! : 0);
      p99.push(n > 0 ? sorted[Math.min(n - 1, Math.floor(0.99 * n))]! : 0);
    }
    c.fill(0, slot * STRIDE, (slot + this.hosts) * STRIDE);
    this.series.push({ second: sec, hosts, mean, p50, p99, max });
    live.fill(0);
  }
}
