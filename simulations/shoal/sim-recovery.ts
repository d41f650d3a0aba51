import type { JobSpec, Millis, PeerIdStr } from '../../src/core/index.ts';
import type { GossipNode } from '../../src/gossip/index.ts';
import { TenantKeyMap, type HostLedger, type PlacementNode, type Reservation, type SubmitOutcome } from '../../src/placement/index.ts';
import {
  Evacuator,
  emptyRecoveryStats,
  replaceResultOf,
  replicaHolders,
  type RecoveryOptions,
  type RecoveryStats,
  type ReplicaJob,
  type ReplicaSource,
} from '../../src/placement/recovery/index.ts';
import { Histogram } from '../metrics/histogram.ts';
import type { Truth } from '../run/truth.ts';
import type { World } from '../world/world.ts';
import type { ShoalSimNode } from './shoal-sim-node.ts';

/** How often dirty owners push their records to their holders: the agent coalesces pushes over 20 ms. */
const PUSH_TICK_MS = 20;
/** How often every up owner recomputes its holder list from its view (members come and go). */
const HOLDER_REFRESH_MS = 5_000;

/**
 * The replicas an owner last pushed: its holder list and a snapshot of its records. One
 * immutable snapshot is shared by every holder (the simulator shares what it can), and an
 * outcome recorded by an evacuator is visible to all holders at once (the agent sends it to
 * each; a lost message there only costs an idempotent re-placement).
 */
interface ReplicaSet {
  holders: PeerIdStr[];
  jobs: ReplicaJob[];
  readonly settled: Set<string>;
}

/**
 * Issue 7 in the simulator: the unchanged `Evacuator` (src/placement/recovery) on every host,
 * re-placing through the host's unchanged `PlacementNode.replace`. The wire and the store are
 * what this adapter stands in for: an owner's records reach its ring successors
 * (`replicaHolders` over the owner's own gossip view) within `PUSH_TICK_MS` of a change, as a
 * synced push would. It measures what the issue asks: the time until every evacuable job of the
 * failed hosts runs again, jobs left without a copy, and jobs running twice.
 */
export class SimRecovery {
  readonly opts: RecoveryOptions;
  /** Specs of admitted jobs, by job id: what an evacuator re-places (the agent keeps the spec in the replica). */
  private readonly specs = new Map<string, JobSpec>();
  private readonly sets = new Map<PeerIdStr, ReplicaSet>();
  /** Per holder (host index): the owners it holds replicas of, in the order they were assigned. */
  private readonly held: Set<PeerIdStr>[] = [];
  private readonly dirty = new Set<number>();
  private readonly evacuators: Evacuator[] = [];
  /** Stats of evacuators that were replaced by a restart of their host. */
  private readonly retired: RecoveryStats = emptyRecoveryStats();
  /** Virtual ms from a job's host going down to the job placed again elsewhere. */
  readonly downtimeMs = new Histogram();
  private lastReplacedAtMs = NaN;
  private firstDownAtMs = NaN;
  private world: World<ShoalSimNode> | null = null;
  private truth: Truth | null = null;
  private ledgers: readonly (HostLedger | undefined)[] = [];

  constructor(opts: RecoveryOptions) {
    this.opts = opts;
  }

  bind(world: World<ShoalSimNode>, truth: Truth, ledgers: readonly (HostLedger | undefined)[]): void {
    this.world = world;
    this.truth = truth;
    this.ledgers = ledgers;
    const push = (now: Millis): void => {
      for (const h of this.dirty) this.replicate(h);
      this.dirty.clear();
      world.at(now + PUSH_TICK_MS, push);
    };
    const refresh = (now: Millis): void => {
      for (let h = 0; h < world.hostCount; h++) if (world.alive[h] && (this.ledgers[h]?.size ?? 0) > 0) this.dirty.add(h);
      world.at(now + HOLDER_REFRESH_MS, refresh);
    };
    world.at(PUSH_TICK_MS, push);
    world.at(HOLDER_REFRESH_MS, refresh);
  }

  /**
   * A job was admitted on `host` (its owner): remember the spec and push it before it is
   * answered, as the agent's admission waits for its holders (here the push takes no time; the
   * agent's takes a round trip).
   */
  admitted(host: number, jobId: string, spec: JobSpec): void {
    this.specs.set(jobId, spec);
    this.replicate(host);
  }

  /** The host's records changed otherwise (a release). */
  changed(host: number): void {
    this.dirty.add(host);
  }

  /** The Evacuator of one host incarnation, wired to its gossip view and placement node. */
  attach(host: number, gossip: GossipNode, placement: PlacementNode, now: Millis): Evacuator {
    const w = this.world!;
    const self = w.ids[host]!;
    const held = (this.held[host] ??= new Set());
    const source: ReplicaSource = {
      owners: () => held,
      holdersOf: (owner) => this.sets.get(owner)?.holders ?? [],
      jobsOf: (owner) => this.jobsOf(owner),
    };
    const previous = this.evacuators[host];
    if (previous !== undefined) addStats(this.retired, previous.stats);
    const evacuator: Evacuator = new Evacuator(
      this.opts,
      {
        self,
        replicas: source,
        statusOf: (peer) => gossip.cellMember(peer)?.status,
        metrics: null,
        outbox: {
          replace: (owner, job, at) => {
            const spec = this.specs.get(job.jobId);
            const driver = this.ledgers[w.indexOf.get(owner) ?? -1]?.get(job.jobId)?.driver;
            if (spec === undefined || driver === undefined) throw new Error(`no spec or driver for job ${job.jobId}`);
            placement.replace(spec, { jobId: job.jobId, fromHost: owner, fromEpoch: job.epoch, driver }, at, (o: SubmitOutcome) => {
              // Answered later, as the agent's promise would be: never inside the placement node's own handler.
              w.at(w.nowMs, () => {
                if (!w.alive[host] || this.evacuators[host] !== evacuator) return; // this incarnation is gone
                w.guard(host, 'evacuator.onResult', () => {
                  const result = replaceResultOf(o, owner);
                  if (result.type === 'replaced') this.settle(owner, job.jobId);
                  evacuator.onResult(owner, job.jobId, result, w.hostTime(w.nowMs));
                });
              });
            });
          },
          lose: (owner, job) => this.sets.get(owner)?.settled.add(job.jobId),
          started: () => undefined,
          finished: () => undefined,
        },
      },
      now,
    );
    this.evacuators[host] = evacuator;
    return evacuator;
  }

  /** Figures for the run result (snake_case, `recovery_` prefix). */
  finalMetrics(): Record<string, number | null> {
    const w = this.world!;
    const stats = { ...this.retired };
    for (const e of this.evacuators) if (e !== undefined) addStats(stats, e.stats);
    // Every job a down host held that should run: is it running on a live host now, and how often?
    const liveCopies = new TenantKeyMap<number>();
    for (let h = 0; h < w.hostCount; h++) {
      const l = this.ledgers[h];
      if (l === undefined || !w.alive[h]) continue;
      for (const r of l.reservations()) liveCopies.set(r.tenant, r.key, (liveCopies.get(r.tenant, r.key) ?? 0) + 1);
    }
    // By key: a job re-placed onto a host that then failed too sits in two down ledgers.
    const onDown = new TenantKeyMap<Reservation>();
    for (let h = 0; h < w.hostCount; h++) {
      const l = this.ledgers[h];
      if (l === undefined || w.alive[h]) continue;
      for (const r of l.reservations()) {
        if (this.specs.get(r.jobId)?.evacuate === false) continue; // reported lost, by its spec's wish
        onDown.set(r.tenant, r.key, r);
      }
    }
    const toMove = onDown.size;
    let missing = 0;
    for (const r of onDown.values()) if ((liveCopies.get(r.tenant, r.key) ?? 0) === 0) missing++;
    let twice = 0;
    for (const n of liveCopies.values()) if (n > 1) twice += n - 1;
    const d = this.downtimeMs;
    return {
      recovery_jobs_on_down_hosts: toMove,
      recovery_jobs_missing: missing,
      recovery_jobs_running_twice: twice,
      recovery_replaced: stats.replaced,
      recovery_lost: stats.lost,
      recovery_retries: stats.retries,
      recovery_abandoned: stats.abandoned,
      recovery_evacuations_started: stats.evacuationsStarted,
      recovery_evacuations_completed: stats.evacuationsCompleted,
      recovery_job_downtime_p50_s: seconds(d.quantile(0.5)),
      recovery_job_downtime_p99_s: seconds(d.quantile(0.99)),
      recovery_job_downtime_max_s: d.count > 0 ? d.max / 1000 : null,
      recovery_all_running_after_s: Number.isNaN(this.lastReplacedAtMs) ? null : (this.lastReplacedAtMs - this.firstDownAtMs) / 1000,
    };
  }

  // ── internals ──────────────────────────────────────────────────────────────────────────

  /** The owner pushes its records to the holders its own view gives; a dropped holder forgets. */
  private replicate(host: number): void {
    const w = this.world!;
    const node = w.hosts[host];
    const ledger = this.ledgers[host];
    if (!w.alive[host] || node === null || node === undefined || ledger === undefined) return;
    const owner = w.ids[host]!;
    const holders = replicaHolders(owner, node.gossip.cellMembers(), this.opts.replicas);
    const prev = this.sets.get(owner);
    const settled = prev?.settled ?? new Set<string>();
    const jobs: ReplicaJob[] = [];
    for (const r of ledger.reservations()) {
      const spec = this.specs.get(r.jobId);
      jobs.push({ jobId: r.jobId, epoch: r.epoch, evacuate: spec?.evacuate !== false, replaceable: spec !== undefined, wantsRunning: true, settled: false });
    }
    if (prev !== undefined) {
      for (const p of prev.holders) if (!holders.includes(p)) this.heldBy(p)?.delete(owner);
      prev.holders = holders;
      prev.jobs = jobs;
    } else {
      this.sets.set(owner, { holders, jobs, settled });
    }
    for (const p of holders) this.heldBy(p)?.add(owner);
  }

  private *jobsOf(owner: PeerIdStr): Iterable<ReplicaJob> {
    const set = this.sets.get(owner);
    if (set === undefined) return;
    for (const j of set.jobs) yield set.settled.has(j.jobId) ? { ...j, settled: true } : j;
  }

  private heldBy(peer: PeerIdStr): Set<PeerIdStr> | undefined {
    const i = this.world!.indexOf.get(peer);
    if (i === undefined) return undefined;
    return (this.held[i] ??= new Set());
  }

  private settle(owner: PeerIdStr, jobId: string): void {
    const set = this.sets.get(owner);
    if (set === undefined || set.settled.has(jobId)) return;
    set.settled.add(jobId);
    const w = this.world!;
    const i = w.indexOf.get(owner);
    const downAt = i === undefined ? NaN : this.truth!.downAtMs[i]!;
    if (Number.isNaN(downAt)) return;
    this.downtimeMs.add(w.nowMs - downAt);
    if (Number.isNaN(this.firstDownAtMs) || downAt < this.firstDownAtMs) this.firstDownAtMs = downAt;
    if (Number.isNaN(this.lastReplacedAtMs) || w.nowMs > this.lastReplacedAtMs) this.lastReplacedAtMs = w.nowMs;
  }
}

function seconds(ms: number | null): number | null {
  return ms === null ? null : ms / 1000;
}

function addStats(into: RecoveryStats, s: RecoveryStats): void {
  for (const k of Object.keys(into) as (keyof RecoveryStats)[]) into[k] += s[k];
}
