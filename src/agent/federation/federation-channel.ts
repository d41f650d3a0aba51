import type { Logger } from 'pino';
import type { Clock, TimerHandle } from '../../core/clock.ts';
import { errorMessage } from '../../core/errors.ts';
import type { PeerIdStr } from '../../core/transport.ts';
import {
  FederationError,
  RemoteRequestSchema,
  decodeFederationMessage,
  decodeReply,
  encodeFederationMessage,
  outcomeLabel,
  type FederationMetrics,
  type FederationStats,
  type RemoteDirectory,
  type RemoteRequest,
  type Reply,
} from '../../federation/index.ts';
import { Libp2pTransport, peerIdInAddr, readSwarmKeyFile, type Identity } from '../../net/index.ts';

/**
 * The federation channel: a second libp2p node, on its own listen address, that talks only
 * to other clusters' gateways. Its network key (when set) is shared by the federated
 * clusters, never a cluster's own mesh key, so a gateway is no way into another mesh. Every
 * connection from an identity outside the allowlist is hung up at once, and every request is
 * checked again against it before it is read.
 */

export const FEDERATION_PROTOCOL = '/shoal/federation/2.0.0';

export interface FederationChannelOptions {
  listen: string[];
  announce: string[];
  /** Federation key file; null: no pnet, the allowlist alone admits peers. */
  networkKey: string | null;
  /** Remote gateways to dial (multiaddrs ending in /p2p/<id>). */
  peers: string[];
  /** Unconnected peers are dialled again this often. */
  redialIntervalMs: number;
  /** Largest frame; also bounds each reply. */
  maxMessageBytes: number;
  /** A handler slower than this is aborted (a remote placement included). */
  handlerTimeoutMs: number;
  dialTimeoutMs: number;
}

export interface FederationChannelModules {
  identity: Identity;
  directory: RemoteDirectory;
  clock: Clock;
  logger: Logger;
  metrics: FederationMetrics | null;
  stats: FederationStats;
}

/** Answers one request from an allowlisted remote gateway. */
export type RemoteHandler = (from: PeerIdStr, cluster: string, req: RemoteRequest, signal: AbortSignal) => Promise<Reply>;

export class FederationChannel {
  private readonly opts: FederationChannelOptions;
  private readonly modules: FederationChannelModules;
  private transport: Libp2pTransport | undefined;
  private redialTimer: TimerHandle | undefined;
  private readonly peerAddrs = new Map<PeerIdStr, string[]>();
  private running = false;

  constructor(opts: FederationChannelOptions, modules: FederationChannelModules) {
    this.opts = opts;
    this.modules = modules;
    for (const addr of opts.peers) {
      const id = peerIdInAddr(addr);
      if (id === null) continue;
      const list = this.peerAddrs.get(id) ?? [];
      list.push(addr);
      this.peerAddrs.set(id, list);
    }
  }

  listenAddrs(): string[] {
    return this.transport?.listenAddrs() ?? [];
  }

  connectedGateways(): PeerIdStr[] {
    return this.transport?.connectedPeers().filter((p) => this.modules.directory.clusterOf(p) !== undefined) ?? [];
  }

  async start(handler: RemoteHandler): Promise<void> {
    const { identity, directory, logger } = this.modules;
    const swarmKey = this.opts.networkKey === null ? null : await readSwarmKeyFile(this.opts.networkKey);
    const transport = await Libp2pTransport.create(
      {
        listenAddrs: this.opts.listen,
        announceAddrs: this.opts.announce,
        requests: { maxFrameBytes: this.opts.maxMessageBytes, handlerTimeoutMs: this.opts.handlerTimeoutMs },
        connections: { dialTimeoutMs: this.opts.dialTimeoutMs },
      },
      { privateKey: identity.privateKey, swarmKey, metrics: null, logger: logger.child({ component: 'federation-net' }) },
    );
    this.transport = transport;
    transport.onPeerEvent((ev) => {
      if (ev.type !== 'connect' || directory.clusterOf(ev.peer) !== undefined) return;
      // Noise has authenticated the identity by now: an unlisted one gets nothing.
      this.refused('connect', ev.peer);
      void transport.hangUp(ev.peer).catch(() => undefined);
    });
    transport.handle(FEDERATION_PROTOCOL, async (from, data, signal) => {
      const cluster = directory.clusterOf(from);
      if (cluster === undefined) {
        this.refused('request', from);
        throw new FederationError('FEDERATION_NOT_ALLOWED', 'this gateway talks only to allowlisted gateways');
      }
      let req: RemoteRequest;
      try {
        req = decodeFederationMessage(data, RemoteRequestSchema, 'federation request', this.opts.maxMessageBytes);
      } catch (err) {
        return this.encode(errorReply(err));
      }
      let reply: Reply;
      try {
        reply = await handler(from, cluster, req, signal);
      } catch (err) {
        reply = errorReply(err);
      }
      this.modules.metrics?.remoteServed.inc({ op: req.op, outcome: reply.ok ? 'ok' : outcomeLabel(reply.code) });
      return this.encode(reply);
    });
    await transport.start();
    this.running = true;
    logger.info({ addrs: transport.listenAddrs(), peers: this.opts.peers.length, pnet: swarmKey !== null }, 'federation channel listening');
    this.redial();
  }

  async stop(): Promise<void> {
    this.running = false;
    this.redialTimer?.cancel();
    this.redialTimer = undefined;
    await this.transport?.stop();
  }

  /** One request to one remote gateway. Transport failures throw (NET_ codes); remote refusals come back as replies. */
  async request(peer: PeerIdStr, req: RemoteRequest, timeoutMs: number, signal?: AbortSignal): Promise<Reply> {
    const transport = this.transport;
    if (transport === undefined) throw new FederationError('FEDERATION_UNAVAILABLE', 'the federation channel is not started');
    const bytes = await transport.request(peer, FEDERATION_PROTOCOL, encodeFederationMessage(req, this.opts.maxMessageBytes), { timeoutMs, signal });
    return decodeReply(bytes, `reply to ${req.op}`, this.opts.maxMessageBytes);
  }

  private encode(reply: Reply): Uint8Array {
    try {
      return encodeFederationMessage(reply, this.opts.maxMessageBytes);
    } catch (err) {
      return encodeFederationMessage(errorReply(err), this.opts.maxMessageBytes);
    }
  }

  private refused(stage: 'connect' | 'request', peer: PeerIdStr): void {
    this.modules.stats.refusedPeers++;
    this.modules.metrics?.refusedPeers.inc({ stage });
    this.modules.logger.warn({ peer, stage }, 'refused a federation peer outside the allowlist');
  }

  /** Dials every configured peer we are not connected to, then again after the interval. */
  private redial(): void {
    const transport = this.transport;
    if (!this.running || transport === undefined) return;
    const connected = new Set(transport.connectedPeers());
    for (const [peer, addrs] of this.peerAddrs) {
      if (connected.has(peer)) continue;
      transport.dial(peer, addrs, { signal: AbortSignal.timeout(this.opts.dialTimeoutMs) }).catch((err: unknown) => {
        this.modules.logger.debug({ peer, err: errorMessage(err) }, 'federation peer not reachable; will retry');
      });
    }
    this.redialTimer = this.modules.clock.schedule(this.opts.redialIntervalMs, () => this.redial());
  }
}

/** Any failure as a reply: ShoalErrors keep their code, anything else is a bug on this side. */
export function errorReply(err: unknown): Reply {
  const code = typeof (err as { code?: unknown })?.code === 'string' ? (err as { code: string }).code.slice(0, 64) : 'INTERNAL';
  const details = (err as { details?: unknown })?.details;
  return {
    ok: false,
    code,
    message: errorMessage(err).slice(0, 4000),
    ...(details && typeof details === 'object' && !Array.isArray(details) ? { details: details as Record<string, unknown> } : {}),
  };
}
