import type { Millis, PeerIdStr, ProtocolNode, Rng } from '../../src/core/index.ts';
import type { MemberStatus } from '../../src/gossip/records.ts';
import { Histogram } from '../metrics/histogram.ts';
import type { World } from '../world/world.ts';
import type { HostModel, RunHooks } from './host-model.ts';
import type { Truth } from './truth.ts';

/**
 * Failure detection as the hosts report it: latency from a crash to each observer's first
 * "not alive" (suspect or failed) and to "failed", plus suspicions of hosts that were in
 * fact alive (false positives), split by whether a partition stood between them.
 */
export class DetectionObserver implements RunHooks {
  readonly knownMs = new Histogram();
  readonly failedMs = new Histogram();
  readonly leftMs = new Histogram();
  falseSuspicions = 0;
  falseFailures = 0;
  partitionSuspicions = 0;
  refutations = 0;
  /** Observer–victim pairs expected to notice each crash (live cell mates at crash time). */
  expectedPairs = 0;
  knownPairs = 0;
  private readonly world: World<ProtocolNode>;
  private readonly truth: Truth;

  constructor(world: World<ProtocolNode>, truth: Truth) {
    this.world = world;
    this.truth = truth;
  }

  memberEvent(observer: number, peer: PeerIdStr, status: MemberStatus, previous: MemberStatus | null, atMs: Millis): void {
    const p = this.world.indexOf.get(peer);
    if (p === undefined) return;
    const down = !this.world.alive[p] && Number.isFinite(this.truth.downAtMs[p]!);
    const notAlive = status === 'suspect' || status === 'failed';
    if (down) {
      const since = atMs - this.truth.downAtMs[p]!;
      // An observer that (re)started after the crash learns history through sync: not detection.
      if (!(this.truth.startedAtMs[observer]! <= this.truth.downAtMs[p]!)) return;
      if (notAlive && (previous === 'alive' || previous === null)) {
        this.knownMs.add(since);
        this.knownPairs++;
      }
      if (status === 'failed') this.failedMs.add(since);
      if (status === 'left') this.leftMs.add(since);
      return;
    }
    if (status === 'alive' && (previous === 'suspect' || previous === 'failed')) this.refutations++;
    if (!notAlive || !this.world.alive[p]) return;
    if (!this.world.network.reachable(observer, p)) {
      this.partitionSuspicions++;
      return;
    }
    // A host that restarted recently may be reported failed for its previous incarnation: not a false positive.
    if (atMs - this.truth.startedAtMs[p]! < 15_000) return;
    if (status === 'suspect') this.falseSuspicions++;
    else this.falseFailures++;
  }

  /** Called when `host` crashes: its live cell mates are the observers that should notice. */
  crashed(host: number, cellBits: number): void {
    const cell = this.truth.cellOf(host, cellBits);
    this.expectedPairs += this.truth.forLiveInCell(cellBits, cell, null);
  }
}

/**
 * Samples whether hosts' views are right, every `intervalMs`, for a fixed random subset of
 * hosts. After each disturbance it records, per sampled host, how long until its view was
 * right again (the convergence CDF), and the time until the sampled cluster as a whole
 * reached the threshold.
 */
export class ConvergenceObserver<N extends ProtocolNode> {
  readonly perHostMs = new Histogram();
  /** (time s, fraction of sampled live hosts with a correct view). */
  readonly series: { t: number; f: number }[] = [];
  readonly episodes: { atS: number; label: string; convergedAfterS: number | null }[] = [];
  private readonly sample: Int32Array;
  private readonly firstOk: Float64Array;
  private episodeAtMs = 0;
  private readonly world: World<N>;
  private readonly model: HostModel<N>;
  private readonly threshold: number;
  private readonly rng: Rng;

  constructor(world: World<N>, model: HostModel<N>, sample: Int32Array, threshold: number, rng: Rng) {
    this.world = world;
    this.model = model;
    this.sample = sample;
    this.threshold = threshold;
    this.rng = rng;
    this.firstOk = new Float64Array(sample.length).fill(NaN);
  }

  disturbance(nowMs: Millis, label: string): void {
    this.episodeAtMs = nowMs;
    this.firstOk.fill(NaN);
    this.episodes.push({ atS: nowMs / 1000, label, convergedAfterS: null });
  }

  check(nowMs: Millis): number {
    let live = 0;
    let ok = 0;
    const ep = this.episodes[this.episodes.length - 1];
    for (let k = 0; k < this.sample.length; k++) {
      const h = this.sample[k]!;
      const node = this.world.hosts[h];
      if (!this.world.alive[h] || node === null || node === undefined) continue;
      live++;
      if (!this.model.viewCorrect(h, node, nowMs, this.rng)) continue;
      ok++;
      if (ep !== undefined && Number.isNaN(this.firstOk[k]!)) {
        this.firstOk[k] = nowMs;
        this.perHostMs.add(nowMs - this.episodeAtMs);
      }
    }
    const f = live > 0 ? ok / live : 0;
    this.series.push({ t: nowMs / 1000, f });
    if (ep !== undefined && ep.convergedAfterS === null && f >= this.threshold) ep.convergedAfterS = nowMs / 1000 - ep.atS;
    return f;
  }

  /** First sample time (s) at which the fraction reached the threshold and never fell below it again, or null. */
  stableConvergedAtS(fromS: number): number | null {
    let at: number | null = null;
    for (const p of this.series) {
      if (p.t < fromS) continue;
      if (p.f >= this.threshold) at ??= p.t;
      else at = null;
    }
    return at;
  }
}
