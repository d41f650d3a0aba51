import { access } from 'node:fs/promises';
import { join } from 'node:path';
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import type { Clock } from '../core/clock.ts';
import { errorMessage } from '../core/errors.ts';
import type { Rng } from '../core/rng.ts';
import type { PeerIdStr } from '../core/transport.ts';
import {
  GossipNode,
  decodeDirect,
  decodeTopicMessage,
  resolveGossipOptions,
  type GossipProfile,
  type MemberEvent,
  type SelfPatch,
} from '../gossip/index.ts';
import {
  Libp2pTransport,
  ProtocolRunner,
  createNetMetrics,
  createProtocolRunnerMetrics,
  peerIdInAddr,
  readSwarmKeyFile,
  writeSwarmKeyFile,
  type Identity,
} from '../net/index.ts';
import { createGossipMetrics, createLocalHealthMetrics } from '../metrics/gossip-metrics.ts';
import type { PeerCache } from '../store/peer-cache.ts';
import { LocalHealth } from './local-health.ts';

/**
 * This agent's membership in the cluster: the libp2p transport (private network), the
 * gossip protocol node driven by a ProtocolRunner, joining through seeds and the peer cache,
 * and the graceful leave.
 */

/** How often event-loop lag is turned into awareness: a few probe rounds, so one GC pause does not swing it. */
const LOCAL_HEALTH_INTERVAL_MS = 2000;

export interface MeshOptions {
  cluster: string;
  dataDir: string;
  listen: string[];
  announce: string[];
  join: string[];
  /** Key file; when unset, `<dataDir>/swarm.key` is created on first start. */
  networkKey?: string;
  mdns: boolean;
  incarnation: number;
  profile: GossipProfile;
  expectedClusterSize: number;
  cellBits?: number;
  targetCellSize?: number;
  /** How often the peer cache is refreshed from the view. */
  peerCacheIntervalMs: number;
}

export interface MeshModules {
  identity: Identity;
  clock: Clock;
  rng: Rng;
  logger: Logger;
  registry: Registry;
  peerCache: PeerCache;
}

export interface JoinResult {
  joined: string[];
  /** `retrying`: the address names its peer, so gossip keeps trying it with back-off (like Consul's retry_join). */
  failed: { addr: string; error: string; retrying: boolean }[];
}

export class Mesh {
  private readonly opts: MeshOptions;
  private readonly modules: MeshModules;
  private transportValue: Libp2pTransport | undefined;
  private runner: ProtocolRunner | undefined;
  private nodeValue: GossipNode | undefined;
  private cacheTimer: { cancel(): void } | undefined;
  private localHealth: LocalHealth | undefined;
  readonly networkKeyPath: string;

  constructor(opts: MeshOptions, modules: MeshModules) {
    this.opts = opts;
    this.modules = modules;
    this.networkKeyPath = opts.networkKey ?? join(opts.dataDir, 'swarm.key');
  }

  get transport(): Libp2pTransport {
    if (!this.transportValue) throw new Error('mesh not started');
    return this.transportValue;
  }

  get node(): GossipNode {
    if (!this.nodeValue) throw new Error('mesh not started');
    return this.nodeValue;
  }

  get started(): boolean {
    return this.nodeValue !== undefined;
  }

  /** Starts networking and gossip. `self` is the host's first record; `onMember` sees status changes. */
  async start(self: SelfPatch, onMember: (ev: MemberEvent) => void): Promise<void> {
    const { identity, clock, rng, logger, registry } = this.modules;
    const swarmKey = await this.loadNetworkKey();
    this.transportValue = await Libp2pTransport.create(
      { listenAddrs: this.opts.listen, announceAddrs: this.opts.announce, mdns: { enabled: this.opts.mdns } },
      { privateKey: identity.privateKey, swarmKey, metrics: createNetMetrics(registry), logger: logger.child({ component: 'net' }) },
    );
    await this.transportValue.start();

    const gossipOpts = resolveGossipOptions(
      {
        cluster: this.opts.cluster,
        incarnation: this.opts.incarnation,
        expectedClusterSize: this.opts.expectedClusterSize,
        cellBits: this.opts.cellBits ?? null,
        ...(this.opts.targetCellSize ? { targetCellSize: this.opts.targetCellSize } : {}),
      },
      this.opts.profile,
    );
    const metrics = createGossipMetrics(registry, () => this.nodeValue?.oldestRecordAgeMs(clock.now()));
    this.runner = new ProtocolRunner(
      {},
      {
        node: (outbox) => (this.nodeValue = new GossipNode(gossipOpts, { self: identity.peerId, rng: rng.fork('gossip'), outbox, metrics })),
        transport: this.transportValue,
        clock,
        codec: { decodeTopic: decodeTopicMessage, decodeDirect },
        metrics: createProtocolRunnerMetrics(registry),
        logger: logger.child({ component: 'gossip' }),
      },
    );
    const node = this.node;
    node.updateSelf({ ...self, addrs: this.transportValue.listenAddrs() }, clock.now());
    node.onMemberEvent(onMember);
    this.runner.start();
    this.localHealth = new LocalHealth(
      { unitMs: gossipOpts.ackTimeoutMs / 4, maxScore: gossipOpts.maxAwareness, intervalMs: LOCAL_HEALTH_INTERVAL_MS },
      { clock, report: (score) => node.setLocalHealth(score), metrics: createLocalHealthMetrics(registry) },
    );
    this.localHealth.start();

    const cached = await this.modules.peerCache.list();
    node.join(
      cached.filter((p) => p.peer !== identity.peerId).map((p) => ({ peer: p.peer, addrs: p.addrs })),
      clock.now(),
    );
    this.runner.poke();
    if (this.opts.join.length > 0) {
      const result = await this.join(this.opts.join);
      if (result.failed.length > 0) logger.warn({ failed: result.failed }, 'could not reach some join addresses; gossip keeps retrying known peers');
    }
    this.scheduleCacheRefresh();
  }

  /** Feeds new host facts to gossip; it decides whether they are worth publishing now. */
  updateSelf(patch: SelfPatch): void {
    if (!this.nodeValue) return;
    this.nodeValue.updateSelf(patch, this.modules.clock.now());
    this.runner?.poke();
  }

  /**
   * Dials each address and syncs with the peers that answered. An address that names its
   * peer (`…/p2p/<id>`) and did not answer stays a seed that gossip keeps retrying with
   * back-off: a seed busy with many joiners at once (a rack powering on) times some out.
   */
  async join(addrs: readonly string[], opts: { signal?: AbortSignal } = {}): Promise<JoinResult> {
    const result: JoinResult = { joined: [], failed: [] };
    const seeds: { peer: PeerIdStr; addrs: string[] }[] = [];
    await Promise.all(
      addrs.map(async (addr) => {
        try {
          const peer = await this.transport.dialAddr(addr, opts);
          seeds.push({ peer, addrs: [addr] });
          result.joined.push(peer);
        } catch (err) {
          const peer = peerIdInAddr(addr);
          if (peer !== null && peer !== this.modules.identity.peerId) seeds.push({ peer, addrs: [addr] });
          result.failed.push({ addr, error: errorMessage(err), retrying: peer !== null });
        }
      }),
    );
    if (seeds.length > 0) {
      this.node.join(seeds, this.modules.clock.now());
      this.runner?.poke();
    }
    return result;
  }

  /** Announces the leave on gossip, then closes the network. */
  async stop(): Promise<void> {
    this.cacheTimer?.cancel();
    this.cacheTimer = undefined;
    this.localHealth?.stop();
    if (this.nodeValue) await this.refreshPeerCache().catch(() => undefined);
    this.runner?.stop();
    await this.transportValue?.stop();
  }

  private async loadNetworkKey(): Promise<Uint8Array> {
    const path = this.networkKeyPath;
    if (!this.opts.networkKey) {
      const exists = await access(path).then(
        () => true,
        () => false,
      );
      if (!exists) {
        await writeSwarmKeyFile(path);
        this.modules.logger.warn({ path }, 'created a new private-network key; give every other member of this cluster a copy (net.network_key)');
      }
    }
    return readSwarmKeyFile(path);
  }

  private scheduleCacheRefresh(): void {
    this.cacheTimer = this.modules.clock.schedule(this.opts.peerCacheIntervalMs, () => {
      void this.refreshPeerCache()
        .catch((err: unknown) => this.modules.logger.debug({ err: errorMessage(err) }, 'peer cache refresh failed'))
        .finally(() => {
          if (this.cacheTimer) this.scheduleCacheRefresh();
        });
    });
  }

  /** Alive members of our cell and the contacts of other cells: enough to rejoin after a restart. */
  private async refreshPeerCache(): Promise<void> {
    const now = this.modules.clock.now();
    const node = this.node;
    const seen: { peer: PeerIdStr; addrs: string[]; seenAtMs: number }[] = [];
    for (const m of node.cellMembers()) {
      if (m.status === 'alive' && m.record.origin !== node.self && m.record.addrs.length > 0) seen.push({ peer: m.record.origin, addrs: [...m.record.addrs], seenAtMs: m.updatedAtMs });
    }
    for (const s of node.cellSummaries()) {
      for (const c of s.contacts) if (c.peer !== node.self && c.addrs.length > 0) seen.push({ peer: c.peer, addrs: [...c.addrs], seenAtMs: now });
    }
    await this.modules.peerCache.remember(seen);
  }
}
