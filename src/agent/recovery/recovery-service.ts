import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import type { Clock } from '../../core/clock.ts';
import { ShoalError, errorMessage } from '../../core/errors.ts';
import { hash32 } from '../../core/hash.ts';
import type { JobRecord } from '../../core/job.ts';
import type { PeerIdStr, Transport } from '../../core/transport.ts';
import type { ClusterView, MemberEvent } from '../../gossip/index.ts';
import { cellOfHash, type OwnerRegistry } from '../../placement/index.ts';
import { isUp, replicaHolders, type RecoveryOptions } from '../../placement/recovery/index.ts';
import type { BindingStore } from '../../store/binding-store.ts';
import type { ReplicaStore } from '../../store/replica-store.ts';
import type { EventBus } from '../event-bus.ts';
import type { HostJobs } from '../host-jobs.ts';
import type { HostState } from '../host-state.ts';
import type { JobDirectory } from '../job-service.ts';
import type { PlacementDriver } from '../placement-driver.ts';
import { DrainController, defaultDrainOptions, type DrainOptions } from './drain.ts';
import { EvacuationRunner } from './evacuation-runner.ts';
import { FenceChecker, type FenceCheckerOptions } from './fence-checker.ts';
import { createRecoveryMetrics, type AgentRecoveryMetrics } from './metrics.ts';
import { RECOVERY_PROTOCOL, RecoveryClient, decodeRecoveryRequest, encodeAnswer, type RecoveryRequest } from './protocol.ts';
import { ReplicaHolder } from './replica-holder.ts';
import { Replicator, defaultReplicatorOptions, type ReplicatorOptions } from './replicator.ts';

/**
 * "No job lost", in the agent: replication of this host's records to its ring successors,
 * the replicas it holds for others, evacuation of failed hosts it is responsible for, fencing
 * of its own stale copies, and drain. The decisions are made by the pure core in
 * `src/placement/recovery`; this wires them to libp2p, level, the placement driver and the
 * job store.
 */

/** Hosts asked for a failed host's record before answering "not found". */
const MAX_LOOKUP_ASKS = 8;

export interface RecoveryServiceOptions {
  recovery: RecoveryOptions;
  fence: FenceCheckerOptions;
  replicator: ReplicatorOptions;
  drain: DrainOptions;
  /** Bound on one recovery request between agents. */
  requestTimeoutMs: number;
  /** The evacuator re-reads the view at least this often. */
  tickMs: number;
}

export const defaultFenceCheckerOptions: FenceCheckerOptions = {
  intervalMs: 30_000, // 30 s: with the check on rejoin, two copies after a partition heal live at most this long
  concurrency: 4, // locates in flight: a host's jobs are checked in seconds without flooding key owners
  startTimeoutMs: 10_000, // 10 s: a restarted agent rejoins in 1-2 s; a lone host starts its jobs after this
};

export function defaultRecoveryServiceOptions(recovery: RecoveryOptions): RecoveryServiceOptions {
  return {
    recovery,
    fence: defaultFenceCheckerOptions,
    replicator: defaultReplicatorOptions,
    drain: defaultDrainOptions,
    requestTimeoutMs: 5_000, // ms: a synced level write plus a LAN round trip, with room for a busy host
    tickMs: 1_000, // ms: holders' failures are seen within a second even without a member event
  };
}

export interface RecoveryServiceModules {
  self: PeerIdStr;
  clock: Clock;
  transport: Transport;
  view: ClusterView;
  jobs: HostJobs;
  host: HostState;
  placement: PlacementDriver;
  /** The key owner's registry and its store: a fenced host updates bindings it holds that are older. */
  registry: OwnerRegistry;
  bindings: BindingStore;
  store: ReplicaStore;
  events: EventBus;
  metricsRegistry: Registry | null;
  logger: Logger;
}

export class RecoveryService {
  private readonly opts: RecoveryServiceOptions;
  private readonly m: RecoveryServiceModules;
  private readonly client: RecoveryClient;
  private readonly holder: ReplicaHolder;
  private readonly replicator: Replicator;
  private readonly runner: EvacuationRunner;
  private readonly fence: FenceChecker;
  private readonly drainer: DrainController;
  private readonly metrics: AgentRecoveryMetrics | null;
  private unsubscribe: (() => void) | undefined;

  constructor(opts: RecoveryServiceOptions, modules: RecoveryServiceModules) {
    this.opts = opts;
    this.m = modules;
    const { self, clock, jobs, view, logger } = modules;
    this.client = new RecoveryClient(modules.transport, opts.requestTimeoutMs);
    this.holder = new ReplicaHolder({ store: modules.store, clock });
    this.metrics = modules.metricsRegistry === null ? null : createRecoveryMetrics(modules.metricsRegistry, () => this.holder.size);
    const fenceJob = (id: string, reason: string): Promise<unknown> => jobs.update(id, { state: 'fenced', reason });
    this.fence = new FenceChecker(opts.fence, {
      self,
      clock,
      records: () => jobs.all(),
      get: (id) => jobs.get(id),
      fence: fenceJob,
      locate: (id) => modules.placement.locate(id),
      client: this.client,
      holders: () => this.replicator.holders,
      peersUp: () => {
        let n = 0;
        for (const m of view.cellMembers()) if (m.record.origin !== self && isUp(m.status)) n++;
        return n;
      },
      connections: () => modules.transport.connectedPeers().length,
      onSuperseded: (jobId, host, epoch) => {
        const b = modules.registry.supersede(jobId, host, epoch, clock.now());
        if (b !== undefined) void modules.bindings.save(b).catch((err: unknown) => logger.warn({ err: errorMessage(err), jobId }, 'could not persist an updated binding'));
      },
      onFenced: (source) => this.metrics?.jobsFenced.inc({ source }),
      rebind: (r) => modules.placement.replace(r.spec, { jobId: r.id, fromHost: self, fromEpoch: r.epoch, driver: r.driver, bindOnly: true }),
      events: modules.events,
      logger: logger.child({ component: 'fencing' }),
    });
    this.replicator = new Replicator(opts.replicator, {
      self,
      clock,
      client: this.client,
      records: () => jobs.all(),
      holders: () => replicaHolders(self, view.cellMembers(), opts.recovery.replicas),
      onFence: (notices) => this.fence.applyNotices(notices, 'push'),
      onPush: (result) => this.metrics?.replicaPushes.inc({ result }),
      logger: logger.child({ component: 'replication' }),
    });
    this.runner = new EvacuationRunner(
      { recovery: opts.recovery, tickMs: opts.tickMs },
      {
        self,
        clock,
        holder: this.holder,
        statusOf: (peer) => view.cellMember(peer)?.status,
        placement: modules.placement,
        client: this.client,
        events: modules.events,
        metrics: this.metrics,
        logger: logger.child({ component: 'evacuation' }),
      },
    );
    this.drainer = new DrainController(opts.drain, {
      self,
      clock,
      records: () => jobs.all(),
      get: (id) => jobs.get(id),
      fence: fenceJob,
      replace: (spec, target) => modules.placement.replace(spec, target),
      setDraining: (draining) => {
        modules.host.draining = draining;
        jobs.refreshProfile();
      },
      persist: (draining) => modules.store.setDraining(draining),
      events: modules.events,
      jobsReplaced: this.metrics?.jobsReplaced ?? null,
      logger: logger.child({ component: 'drain' }),
    });
  }

  /** Loads replicas, serves the protocol, restores a drain, starts replication and evacuation. */
  async start(): Promise<void> {
    const { skipped } = await this.holder.load();
    if (skipped > 0) this.m.logger.error({ skipped }, 'replica entries in the store did not parse and were skipped');
    this.m.transport.handle(RECOVERY_PROTOCOL, (from, data) => this.serve(from, decodeRecoveryRequest(data)));
    this.drainer.restore(await this.m.store.draining());
    this.unsubscribe = this.m.jobs.onChange(() => this.replicator.changed());
    this.m.jobs.confirmCopiesWith((jobId, epoch) => this.replicator.confirm(jobId, epoch));
    this.replicator.start();
    this.runner.start();
  }

  /** Before the drivers start: stop copies that moved while this host was down (bounded wait). */
  async beforeWorkload(): Promise<void> {
    await this.fence.startChecked();
  }

  stop(): void {
    this.unsubscribe?.();
    this.fence.stop();
    this.replicator.stop();
    this.runner.stop();
    this.drainer.stop();
  }

  /** Member events of the own cell; `self` events are refutations: this host was thought dead. */
  onMemberEvent(ev: MemberEvent): void {
    if (ev.peer === this.m.self) {
      void this.fence.check('rejoin');
      return;
    }
    this.runner.onMemberEvent(ev.peer, ev.status, ev.atMs);
    this.replicator.viewChanged();
  }

  /** `POST /v1/agent/drain`: drains `host` (a peer id, or a unique prefix of one in this cell), wherever the request arrived. */
  async drain(host: string, cancel: boolean, opts: { signal?: AbortSignal } = {}): Promise<Record<string, unknown>> {
    const target = this.resolveHost(host);
    if (target === this.m.self) return { ...(await this.drainer.set(!cancel)) };
    try {
      const addrs = this.m.view.cellMember(target)?.record.addrs ?? [];
      if (addrs.length > 0 && !this.m.transport.connectedPeers().includes(target)) await this.m.transport.dial(target, addrs, { signal: opts.signal });
      return await this.client.drain(target, cancel, opts.signal);
    } catch (err) {
      throw new ShoalError('RECOVERY_HOST_UNREACHABLE', `host ${target} did not answer the drain request: ${errorMessage(err)}`, { host: target });
    }
  }

  /** Wraps the job directory so a job of a failed host that was not re-placed shows as lost (from its replica holders). */
  directory(inner: JobDirectory): JobDirectory {
    return {
      get: async (id, opts) => {
        try {
          return await inner.get(id, opts);
        } catch (err) {
          const host = err instanceof ShoalError && err.code === 'JOB_HOST_UNREACHABLE' ? err.details.host : undefined;
          if (typeof host !== 'string') throw err;
          const record = await this.lookup(host, id).catch(() => null);
          if (record === null || (record.state !== 'lost' && record.state !== 'fenced')) throw err;
          return record;
        }
      },
      list: (opts) => inner.list(opts),
      stop: (id, opts) => inner.stop(id, opts),
    };
  }

  status(): Record<string, unknown> {
    return {
      replicas: { held: this.holder.size, owners: [...this.holder.owners()].length, ...this.replicator.status() },
      evacuations: this.runner.status(),
      evacuationStats: this.runner.stats,
      fencing: this.fence.lastCheck,
      drain: this.drainer.status(),
      options: this.opts.recovery,
    };
  }

  // ── serving ──────────────────────────────────────────────────────────────────────────────

  private async serve(from: PeerIdStr, req: RecoveryRequest): Promise<Uint8Array> {
    switch (req.op) {
      case 'push': {
        const foreign = req.records.find((r) => r.host !== from);
        if (foreign !== undefined) throw new ShoalError('RECOVERY_BAD_REQUEST', `${from} pushed job ${foreign.id} of host ${foreign.host}`);
        const fence = await this.holder.applyPush(from, { holders: req.holders, records: req.records as JobRecord[], removed: req.removed, ids: req.ids });
        return encodeAnswer({ fence });
      }
      case 'forget':
        await this.holder.forget(from);
        return encodeAnswer({});
      case 'outcome':
        await this.holder.recordOutcomes(req.owner, req.outcomes);
        return encodeAnswer({});
      case 'query':
        return encodeAnswer({ outcomes: this.holder.replacedOutcomes(from) });
      case 'lookup':
        return encodeAnswer({ record: req.hops > 0 ? this.holder.lookup(req.owner, req.jobId) : await this.lookup(req.owner, req.jobId) });
      case 'drain':
        return encodeAnswer(await this.drainer.set(!req.cancel));
    }
  }

  /** A failed host's record from its replica holders: here, else the owner's ring successors in its cell (through a contact when the cell is another). */
  private async lookup(owner: PeerIdStr, jobId: string): Promise<JobRecord | null> {
    const local = this.holder.lookup(owner, jobId);
    if (local !== null) return local;
    const view = this.m.view;
    const cell = cellOfHash(hash32(owner), view.cellBits);
    if (cell === view.ownCell) {
      // The holders the owner chose (zone-aware, if its record is still in the view), then plain successors.
      const k = this.opts.recovery.replicas;
      const zone = view.cellMember(owner)?.record.zone;
      const candidates = new Set([...replicaHolders(owner, view.cellMembers(), k, zone), ...replicaHolders(owner, view.cellMembers(), MAX_LOOKUP_ASKS, '\u0000')]);
      for (const peer of [...candidates].slice(0, MAX_LOOKUP_ASKS)) {
        if (peer === this.m.self) continue;
        const r = await this.client.lookup(peer, owner, jobId, 1).catch(() => null);
        if (r !== null) return r;
      }
      return null;
    }
    for (const c of view.cellSummary(cell)?.contacts.slice(0, 2) ?? []) {
      try {
        if (!this.m.transport.connectedPeers().includes(c.peer)) await this.m.transport.dial(c.peer, c.addrs);
        const r = await this.client.lookup(c.peer, owner, jobId, 0);
        if (r !== null) return r;
      } catch {
        // Next contact.
      }
    }
    return null;
  }

  private resolveHost(host: string): PeerIdStr {
    if (host === this.m.self || host === 'self') return this.m.self;
    const matches: PeerIdStr[] = [];
    for (const m of this.m.view.cellMembers()) {
      const id = m.record.origin;
      if (id === host) return id;
      if (host.length >= 6 && id.startsWith(host)) matches.push(id);
    }
    if (matches.length === 1) return matches[0]!;
    if (matches.length > 1) throw new ShoalError('RECOVERY_AMBIGUOUS_HOST', `"${host}" matches ${matches.length} hosts: ${matches.join(', ')}`, { host, matches });
    if (/^12D3Koo[1-9A-HJ-NP-Za-km-z]{40,60}$/.test(host)) return host; // a peer of another cell: try it directly
    throw new ShoalError('RECOVERY_UNKNOWN_HOST', `no host "${host}" in this agent's cell (give a full peer id for a host of another cell)`, { host });
  }
}
