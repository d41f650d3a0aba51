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
import { createApiMetrics, createJobMetrics, createRegistry } from '../metrics/registry.ts';
import { JobStore } from '../store/job-store.ts';
import { MetaStore } from '../store/meta-store.ts';
import { Store } from '../store/store.ts';
import { EventBus, defaultEventBusOptions } from './event-bus.ts';
import { HostJobs } from './host-jobs.ts';
import { HostState, type HostPolicy } from './host-state.ts';
import { JobService, type JobDirectory, type Placer } from './job-service.ts';
import { VERSION } from './version.ts';

/**
 * One host's agent: it wires the store, host facts, the job owner, and the API on the local
 * socket. Components start in dependency order and stop in reverse.
 */

export interface AgentIdentity {
  readonly peerId: string;
}

export interface AgentOptions {
  config: Config;
  paths: AgentPaths;
  socketGroupId?: number;
}

export interface AgentModules {
  clock: Clock;
  rng: Rng;
  logger: Logger;
  loadIdentity: (dataDir: string) => Promise<AgentIdentity>;
}

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
  private store: Store | undefined;
  private host: HostState | undefined;
  private jobs: HostJobs | undefined;
  private api: FastifyInstance | undefined;
  private metricsApi: FastifyInstance | undefined;
  private identity: AgentIdentity | undefined;
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
    this.startedAtMs = clock.now();
    this.identity = await this.modules.loadIdentity(this.paths.dataDir);
    this.store = await Store.open(this.paths.dataDir);
    this.incarnation = await new MetaStore(this.store).bumpIncarnation();

    this.host = new HostState({ dataDir: this.paths.dataDir, policy: hostPolicy(this.config) }, { clock, logger: logger.child({ component: 'host' }) });
    await this.host.start();
    this.host.setDrivers(this.config.host.drivers);

    const host = this.host;
    this.jobs = new HostJobs({
      self: this.identity.peerId,
      store: new JobStore(this.store),
      clock,
      rng: rng.fork('jobs'),
      events: this.events,
      offer: () => ({ allocatable: host.allocatable(), drivers: host.drivers, zone: host.policy.zone, labels: host.policy.labels, draining: host.draining }),
    });
    await this.jobs.load();

    const jobService = new JobService({
      placer: this.localPlacer(),
      directory: this.localDirectory(),
      clock,
      rng: rng.fork('job-service'),
      metrics: createJobMetrics(this.registry),
    });

    this.api = buildApi(
      { maxBodyBytes: this.config.agent.maxBodyBytes },
      { jobs: jobService, info: this.info(), control: {}, events: this.events, registry: this.registry, metrics: createApiMetrics(this.registry), logger: logger.child({ component: 'api' }) },
    );
    await listenOnSocket(this.api, { socket: this.paths.socket, socketGroupId: this.opts.socketGroupId, maxBodyBytes: this.config.agent.maxBodyBytes });
    if (this.config.agent.metricsListen) {
      this.metricsApi = await listenForMetrics({ registry: this.registry, logger }, this.config.agent.metricsListen);
    }
    this.events.emit('agent.started', { peerId: this.identity.peerId, incarnation: this.incarnation, version: VERSION });
    logger.info({ peerId: this.identity.peerId, incarnation: this.incarnation, socket: this.paths.socket, dataDir: this.paths.dataDir }, 'agent started');
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
      this.host?.setPolicy(hostPolicy(next));
      applied.push('host');
    }
    for (const key of ['cluster', 'agent', 'net'] as const) {
      if (JSON.stringify(next[key]) !== JSON.stringify(before[key])) needsRestart.push(key);
    }
    if (JSON.stringify(next.host.drivers) !== JSON.stringify(before.host.drivers)) needsRestart.push('host.drivers');
    this.config = next;
    this.events.emit('agent.reloaded', { applied, needsRestart });
    return { applied, needsRestart };
  }

  async stop(reason = 'stop requested'): Promise<void> {
    if (this.stopping) return;
    this.stopping = true;
    this.modules.logger.info({ reason }, 'agent stopping');
    this.events.emit('agent.stopping', { reason });
    await this.metricsApi?.close();
    await this.api?.close();
    this.host?.stop();
    await this.store?.close();
    this.modules.logger.info('agent stopped');
  }

  private localPlacer(): Placer {
    return { place: (spec) => this.jobs!.admit(spec) };
  }

  private localDirectory(): JobDirectory {
    return {
      get: async (id) => this.jobs!.get(id),
      list: async () => this.jobs!.list(),
      stop: (id) => this.jobs!.stop(id),
    };
  }

  private info(): AgentInfo {
    return {
      self: () => this.selfInfo(),
      health: () => ({
        status: this.stopping ? 'stopping' : 'ok',
        checks: { store: { ok: this.store?.db.status === 'open' }, api: { ok: this.api !== undefined } },
      }),
      members: () => [this.selfMember()],
      stats: () => ({ jobs: this.jobs?.list().length ?? 0, events: this.events.lastSeq }),
    };
  }

  private selfInfo(): Record<string, unknown> {
    const host = this.host!;
    const jobs = this.jobs!;
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
      draining: host.draining,
      capacity: { physical: host.physical(), allocatable: host.allocatable(), reserved: jobs.reserved(), free: jobs.free() },
      overcommit: host.policy.overcommit,
      facts: host.facts,
      jobs: jobs.list().length,
      socket: this.paths.socket,
      dataDir: this.paths.dataDir,
      startedAtMs: this.startedAtMs,
    };
  }

  private selfMember(): Record<string, unknown> {
    const host = this.host!;
    return {
      id: this.peerId,
      name: this.config.agent.nodeName ?? hostname(),
      status: 'alive',
      incarnation: this.incarnation,
      zone: host.policy.zone,
      capacity: host.allocatable(),
      free: this.jobs!.free(),
      ageMs: 0,
      self: true,
    };
  }
}
