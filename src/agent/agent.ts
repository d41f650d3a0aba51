import { hostname } from 'node:os';
import type { FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import { buildApi, listenForMetrics, listenOnSocket } from '../api/server.ts';
import type { AgentInfo } from '../api/modules.ts';
import type { Clock } from '../core/clock.ts';
import type { Rng } from '../core/rng.ts';
import type { Config } from '../config/schema.ts';
import type { AgentPaths } from '../config/paths.ts';
import type { MemberEvent, SelfPatch } from '../gossip/index.ts';
import { createApiMetrics, createJobMetrics, createRegistry } from '../metrics/registry.ts';
import { createPlacementMetrics } from '../metrics/placement-metrics.ts';
import { createHostMetrics } from '../metrics/host-metrics.ts';
import type { Identity } from '../net/index.ts';
import { OwnerRegistry, defaultPlacementOptions, type HostProfile } from '../placement/index.ts';
import { BindingStore, JobStore, MetaStore, PeerCache, Store, defaultPeerCacheOptions } from '../store/index.ts';
import { UsageStore } from '../store/usage-store.ts';
import { ClusterJobs, defaultClusterJobsOptions } from './cluster-jobs.ts';
import { createFederation, type FederationParts } from './federation/wiring.ts';
import { EventBus, defaultEventBusOptions } from './event-bus.ts';
import { HostJobs, specDigest } from './host-jobs.ts';
import { HostState, type HostPolicy } from './host-state.ts';
import { JobRpcClient, serveJobRpc } from './job-rpc.ts';
import { JobService } from './job-service.ts';
import { Mesh } from './mesh.ts';
import { PlacementDriver } from './placement-driver.ts';
import { RecoveryService, defaultRecoveryServiceOptions } from './recovery/index.ts';
import { recoveryOptions } from '../placement/recovery/index.ts';
import { ReplicaStore } from '../store/replica-store.ts';
import { VERSION } from './version.ts';
import { Workload, defaultWorkloadOptions } from './workload.ts';

/**
 * One host's agent. It wires the store, host facts, the jobs this host owns, the drivers
 * that run them, the mesh (libp2p + gossip), placement, and the API on the local socket.
 * Components start in dependency order and stop in reverse.
 */

export interface AgentOptions {
  config: Config;
  paths: AgentPaths;
  socketGroupId?: number;
}

export interface AgentModules {
  clock: Clock;
  rng: Rng;
  logger: Logger;
  loadIdentity: (dataDir: string) => Promise<Identity>;
}

/** How often the peer cache is refreshed from the gossip view. */
const PEER_CACHE_INTERVAL_MS = 60_000;
/** Job queries between agents: a host that does not answer in this time is reported unreachable. */
const JOB_RPC_TIMEOUT_MS = 5_000;

export function hostPolicy(config: Config): HostPolicy {
  return {
    zone: config.host.zone,
    region: config.host.region,
    labels: config.host.labels,
    overcommit: config.host.overcommit,
    reserved: config.host.reserved,
    physicalOverride: config.host.capacity,
    refreshMs: config.host.factsRefreshMs,
  };
}

export class Agent {
  private config: Config;
  private readonly paths: AgentPaths;
  private readonly opts: AgentOptions;
  private readonly modules: AgentModules;
  readonly registry: Registry;
  readonly events: EventBus;
  private identity: Identity | undefined;
  private store: Store | undefined;
  private meta: MetaStore | undefined;
  private host: HostState | undefined;
  private jobs: HostJobs | undefined;
  private workload: Workload | undefined;
  private mesh: Mesh | undefined;
  private placement: PlacementDriver | undefined;
  private federation: FederationParts | undefined;
  private api: FastifyInstance | undefined;
  private recovery: RecoveryService | undefined;
  private metricsApi: FastifyInstance | undefined;
  private incarnation = 0;
  private startedAtMs = 0;
  private stopping = false;

  constructor(opts: AgentOptions, modules: AgentModules) {
    this.opts = opts;
    this.config = opts.config;
    this.paths = opts.paths;
    this.modules = modules;
    this.registry = createRegistry();
    this.events = new EventBus(defaultEventBusOptions, { now: modules.clock.now });
  }

  get peerId(): string {
    if (!this.identity) throw new Error('agent not started');
    return this.identity.peerId;
  }

  async start(): Promise<void> {
    const { clock, rng, logger } = this.modules;
    const config = this.config;
    this.startedAtMs = clock.now();
    this.identity = await this.modules.loadIdentity(this.paths.dataDir);
    const self = this.identity.peerId;
    this.store = await Store.open(this.paths.dataDir);
    this.meta = new MetaStore(this.store);
    this.incarnation = await this.meta.bumpIncarnation();

    this.host = new HostState({ dataDir: this.paths.dataDir, policy: hostPolicy(config) }, { clock, logger: logger.child({ component: 'host' }) });
    await this.host.start();

    this.jobs = new HostJobs({ self, store: new JobStore(this.store), clock, events: this.events, profile: () => this.hostProfile() });
    await this.jobs.load();

    this.workload = new Workload(
      {
        ...defaultWorkloadOptions,
        dataDir: this.paths.dataDir,
        self,
        drivers: config.host.drivers,
        importUnknown: config.host.importUnknown,
        reconcileIntervalMs: config.host.reconcileIntervalMs,
        stopGraceMs: config.host.stopGraceMs,
      },
      { clock, rng: rng.fork('workload'), jobs: this.jobs, events: this.events, logger, usage: new UsageStore(this.store), metrics: createHostMetrics(this.registry) },
    );
    this.host.setDrivers(await this.workload.probe());
    this.jobs.refreshProfile();

    this.mesh = new Mesh(
      {
        cluster: config.cluster,
        dataDir: this.paths.dataDir,
        listen: config.net.listen,
        announce: config.net.announce,
        join: config.net.join,
        networkKey: config.net.networkKey,
        mdns: config.net.mdns,
        incarnation: this.incarnation,
        profile: config.gossip.profile,
        expectedClusterSize: config.gossip.expectedClusterSize,
        cellBits: config.gossip.cellBits,
        targetCellSize: config.gossip.targetCellSize,
        peerCacheIntervalMs: PEER_CACHE_INTERVAL_MS,
      },
      { identity: this.identity, clock, rng: rng.fork('mesh'), logger, registry: this.registry, peerCache: new PeerCache(defaultPeerCacheOptions, this.store) },
    );
    await this.mesh.start(this.selfPatch(), (ev) => this.onMemberEvent(ev));
    const mesh = this.mesh;
    const jobs = this.jobs;
    this.host.onChange(() => {
      jobs.refreshProfile();
      mesh.updateSelf(this.selfPatch());
    });
    jobs.onChange(() => {
      mesh.updateSelf(this.selfPatch());
      this.workload?.kick();
    });

    const bindings = new BindingStore(this.store);
    this.placement = new PlacementDriver(
      { placement: defaultPlacementOptions, sendTimeoutMs: 5_000, maxInFlightSends: 512 },
      {
        transport: mesh.transport,
        clock,
        rng: rng.fork('placement'),
        view: mesh.node,
        admission: jobs.admission,
        bindings,
        registry: new OwnerRegistry(await bindings.snapshot()),
        specDigest,
        metrics: createPlacementMetrics(this.registry),
        logger: logger.child({ component: 'placement' }),
      },
    );
    this.placement.start();
    // No job lost: replicas of this host's records on its ring successors, evacuation of failed hosts, fencing, drain.
    const rc = config.recovery;
    const recoveryDefaults = defaultRecoveryServiceOptions(
      recoveryOptions({
        replicas: rc.replicas,
        evacuateAfterMs: rc.evacuateAfterMs,
        evacuateLeftAfterMs: rc.evacuateLeftAfterMs,
        maxConcurrentReplacements: rc.maxConcurrentReplacements,
        maxReplacementsPerSec: rc.maxReplacementsPerSec,
      }),
    );
    this.recovery = new RecoveryService(
      { ...recoveryDefaults, fence: { ...recoveryDefaults.fence, intervalMs: rc.fenceCheckIntervalMs, startTimeoutMs: rc.startFenceTimeoutMs } },
      {
        self,
        clock,
        transport: mesh.transport,
        view: mesh.node,
        jobs,
        host: this.host,
        placement: this.placement,
        registry: this.placement.node.registry,
        bindings,
        store: new ReplicaStore(this.store),
        events: this.events,
        metricsRegistry: this.registry,
        logger: logger.child({ component: 'recovery' }),
      },
    );
    await this.recovery.start();
    const rpc = new JobRpcClient(mesh.transport, JOB_RPC_TIMEOUT_MS);
    // Federation: every agent can burst through its cluster's gateways; a gateway also serves other clusters.
    const federation: FederationParts = (this.federation = createFederation(config, {
      identity: this.identity,
      clock,
      logger,
      registry: this.registry,
      mesh,
      store: this.store,
      clusterJobs: (): ClusterJobs => clusterJobs,
    }));
    const clusterJobs = new ClusterJobs(defaultClusterJobsOptions, {
      self,
      local: jobs,
      placement: this.placement,
      rpc,
      view: mesh.node,
      transport: mesh.transport,
      federation: federation.entry,
    });
    await federation.gateway?.start();
    serveJobRpc(mesh.transport, {
      jobs,
      listCell: () => clusterJobs.listCell(),
      addrsOf: (peer) => (peer === self ? mesh.transport.listenAddrs() : (mesh.node.cellMember(peer)?.record.addrs ?? [])),
    });

    // Copies re-placed elsewhere while this host was down are fenced before the drivers start them again.
    await this.recovery.beforeWorkload();
    this.workload.start();

    const jobService = new JobService({ placer: clusterJobs, directory: this.recovery.directory(clusterJobs), clock, rng: rng.fork('job-service'), metrics: createJobMetrics(this.registry) });
    this.api = buildApi(
      { maxBodyBytes: config.agent.maxBodyBytes },
      {
        jobs: jobService,
        info: this.info(),
        control: { join: (addrs, opts) => mesh.join(addrs, opts), usage: (query) => this.workload!.usage(query), drain: (host, cancel, opts) => this.recovery!.drain(host, cancel, opts) },
        events: this.events,
        registry: this.registry,
        metrics: createApiMetrics(this.registry),
        logger: logger.child({ component: 'api' }),
      },
    );
    await listenOnSocket(this.api, { socket: this.paths.socket, socketGroupId: this.opts.socketGroupId, maxBodyBytes: config.agent.maxBodyBytes });
    if (config.agent.metricsListen) {
      this.metricsApi = await listenForMetrics({ registry: this.registry, logger }, config.agent.metricsListen);
    }
    this.events.emit('agent.started', { peerId: self, incarnation: this.incarnation, version: VERSION });
    logger.info(
      { peerId: self, incarnation: this.incarnation, socket: this.paths.socket, dataDir: this.paths.dataDir, addrs: mesh.transport.listenAddrs(), drivers: this.host.drivers },
      'agent started',
    );
  }

  /** Applies what can change without a restart; reports what cannot. */
  reload(next: Config): { applied: string[]; needsRestart: string[] } {
    const applied: string[] = [];
    const needsRestart: string[] = [];
    const before = this.config;
    if (next.log.level !== before.log.level) {
      this.modules.logger.level = next.log.level;
      applied.push('log.level');
    }
    if (JSON.stringify(hostPolicy(next)) !== JSON.stringify(hostPolicy(before))) {
      this.config = next;
      this.host?.setPolicy(hostPolicy(next));
      applied.push('host');
    }
    for (const key of ['cluster', 'agent', 'net', 'gossip', 'federation', 'recovery'] as const) {
      if (JSON.stringify(next[key]) !== JSON.stringify(before[key])) needsRestart.push(key);
    }
    if (JSON.stringify(next.host.drivers) !== JSON.stringify(before.host.drivers)) needsRestart.push('host.drivers');
    this.config = next;
    this.events.emit('agent.reloaded', { applied, needsRestart });
    return { applied, needsRestart };
  }

  /** Graceful: stop taking requests, announce the leave, let drivers' instances run on. */
  async stop(reason = 'stop requested'): Promise<void> {
    if (this.stopping) return;
    this.stopping = true;
    const { logger } = this.modules;
    logger.info({ reason }, 'agent stopping');
    this.events.emit('agent.stopping', { reason });
    await this.metricsApi?.close();
    await this.api?.close();
    this.recovery?.stop();
    this.placement?.stop();
    await this.federation?.gateway?.stop().catch((err: unknown) => logger.warn({ err }, 'federation gateway did not stop cleanly'));
    await this.workload?.stop();
    await this.mesh?.stop().catch((err: unknown) => logger.warn({ err }, 'mesh did not stop cleanly'));
    this.host?.stop();
    await this.store?.close();
    logger.info('agent stopped');
  }

  private hostProfile(): HostProfile {
    const host = this.host!;
    return {
      cluster: this.config.cluster,
      zone: host.policy.zone,
      labels: host.policy.labels,
      drivers: host.drivers,
      capacity: host.allocatable(),
      health: 'ok',
      draining: host.draining,
    };
  }

  /** What gossip says about this host. */
  private selfPatch(): SelfPatch {
    const host = this.host!;
    const jobs = this.jobs!;
    return {
      zone: host.policy.zone,
      labels: host.policy.labels,
      drivers: host.drivers,
      capacity: host.allocatable(),
      free: jobs.free(),
      antiAffinityGroups: jobs.ledger.antiAffinityGroups(),
      jobs: jobs.ledger.size,
      health: 'ok',
      draining: host.draining,
    };
  }

  private onMemberEvent(ev: MemberEvent): void {
    this.recovery?.onMemberEvent(ev);
    if (ev.peer === this.identity?.peerId) {
      // A refutation bumped our incarnation: persist it so a restart starts above it.
      this.incarnation = ev.incarnation;
      void this.meta?.raiseIncarnation(ev.incarnation).catch((err: unknown) => this.modules.logger.error({ err }, 'could not persist the incarnation'));
      return;
    }
    this.events.emit(`member.${ev.status}`, { peer: ev.peer, previous: ev.previous, incarnation: ev.incarnation });
  }

  private info(): AgentInfo {
    return {
      self: () => this.selfInfo(),
      health: () => ({
        status: this.stopping ? 'stopping' : 'ok',
        checks: {
          store: { ok: this.store?.db.status === 'open' },
          mesh: { ok: this.mesh?.started === true, detail: this.mesh?.started ? `${this.mesh.transport.connectedPeers().length} peers connected` : undefined },
        },
      }),
      members: (filter) => this.members().filter((m) => !filter.status || m.status === filter.status),
      cells: () => this.cells(),
      stats: () => this.stats(),
    };
  }

  private selfInfo(): Record<string, unknown> {
    const host = this.host!;
    const jobs = this.jobs!;
    const mesh = this.mesh!;
    return {
      id: this.peerId,
      name: this.config.agent.nodeName ?? hostname(),
      cluster: this.config.cluster,
      version: VERSION,
      incarnation: this.incarnation,
      zone: host.policy.zone,
      region: host.policy.region,
      labels: host.policy.labels,
      drivers: host.drivers,
      driverProbes: this.workload?.probes,
      draining: host.draining,
      capacity: { physical: host.physical(), allocatable: host.allocatable(), reserved: jobs.reserved(), free: jobs.free() },
      overcommit: host.policy.overcommit,
      facts: host.facts,
      jobs: jobs.ledger.size,
      cell: mesh.node.ownCell,
      cellBits: mesh.node.cellBits,
      addrs: mesh.transport.listenAddrs(),
      networkKey: mesh.networkKeyPath,
      socket: this.paths.socket,
      dataDir: this.paths.dataDir,
      startedAtMs: this.startedAtMs,
    };
  }

  /** Every host of this agent's cell, as gossip knows it. */
  private members(): Record<string, unknown>[] {
    const node = this.mesh!.node;
    const now = this.modules.clock.now();
    return [...node.cellMembers()].map((m) => {
      const r = m.record;
      const isSelf = r.origin === this.peerId;
      return {
        id: r.origin,
        name: isSelf ? (this.config.agent.nodeName ?? hostname()) : undefined,
        status: m.status,
        cell: node.ownCell,
        zone: r.zone,
        incarnation: r.incarnation,
        capacity: r.capacity,
        free: r.free,
        jobs: r.jobs,
        draining: r.draining,
        health: r.health,
        drivers: r.drivers,
        labels: { ...r.labels },
        addrs: r.addrs,
        ageMs: isSelf ? 0 : now - m.updatedAtMs,
        self: isSelf,
      };
    });
  }

  /** Every cell's summary (the own cell included, as last published). */
  private cells(): Record<string, unknown>[] {
    const node = this.mesh!.node;
    const now = this.modules.clock.now();
    return [...node.cellSummaries()]
      .sort((a, b) => a.cell - b.cell)
      .map((s) => ({
        cell: s.cell,
        cellBits: s.cellBits,
        own: s.cell === node.ownCell,
        members: s.members,
        reporter: s.reporter,
        ageMs: now - s.issuedAtMs,
        free: s.buckets.reduce(
          (t, b) => ({ vcpus: t.vcpus + b.totalFree.vcpus, memoryMiB: t.memoryMiB + b.totalFree.memoryMiB, diskGiB: t.diskGiB + b.totalFree.diskGiB }),
          { vcpus: 0, memoryMiB: 0, diskGiB: 0 },
        ),
        zones: [...new Set(s.buckets.map((b) => b.zone))],
        contacts: s.contacts.map((c) => c.peer),
      }));
  }

  private stats(): Record<string, unknown> {
    const node = this.mesh!.node;
    return {
      jobs: this.jobs!.ledger.size,
      events: this.events.lastSeq,
      gossip: {
        cellBits: node.cellBits,
        ownCell: node.ownCell,
        estimatedClusterSize: Math.round(node.estimatedClusterSize()),
        roles: node.roles(),
        queues: node.queueDepths(),
        counters: node.counters(),
        peersConnected: this.mesh!.transport.connectedPeers().length,
      },
      placement: this.placement!.node.stats,
      recovery: this.recovery?.status(),
      federation: { entry: this.federation?.entry.info() ?? null, gateway: this.federation?.gateway?.info() ?? null },
    };
  }
}
