import type { Logger } from 'pino';
import type { Clock } from '../../core/clock.ts';
import { errorMessage, ShoalError } from '../../core/errors.ts';
import type { JobRecord, JobSpec } from '../../core/job.ts';
import type { PeerIdStr, Transport } from '../../core/transport.ts';
import {
  FEDERATION_WIRE_VERSION,
  FederationError,
  GatewayFailover,
  ORIGIN_LABEL,
  burstRoute,
  decodeReply,
  encodeFederationMessage,
  parseGlobalAddress,
  type EntryRequest,
  type FederationMetrics,
  type FederationOptions,
  type Reply,
} from '../../federation/index.ts';
import type { PlacementOutcome } from '../job-service.ts';
import { FEDERATION_ENTRY_PROTOCOL, type GatewayAddress } from './gateway-addresses.ts';
import type { GatewayService } from './gateway-service.ts';

/**
 * The entry agent's side of federation. Every agent has one: it decides whether a job stays
 * in this cluster or bursts (`burstRoute`), hands bursts and `ID@cluster` lookups to one of
 * its cluster's gateways over the mesh, and fails over to the next gateway on its own. An
 * agent that is itself a gateway calls it directly.
 */

export interface FederatedJobsOptions {
  cluster: string;
  region: string;
  /** Burst jobs that no local host fits. */
  burst: boolean;
  /** This cluster's gateways (config `[federation] gateways`). */
  gateways: readonly GatewayAddress[];
  federation: FederationOptions;
}

export interface FederatedJobsModules {
  self: PeerIdStr;
  mesh: Transport;
  clock: Clock;
  logger: Logger;
  /** This agent's gateway, when it is one. */
  gateway: GatewayService | null;
  metrics: FederationMetrics | null;
}

/** JobService's auto keys: a caller never retries one, so no cross-cluster lookup is needed for them. */
const AUTO_KEY_PREFIX = 'auto-';

export class FederatedJobs {
  private readonly opts: FederatedJobsOptions;
  private readonly modules: FederatedJobsModules;
  private readonly failover: GatewayFailover;
  private readonly addrs = new Map<PeerIdStr, readonly string[]>();

  constructor(opts: FederatedJobsOptions, modules: FederatedJobsModules) {
    this.opts = opts;
    this.modules = modules;
    for (const g of opts.gateways) this.addrs.set(g.peer, g.addrs);
    const peers = opts.gateways.map((g) => g.peer);
    if (modules.gateway !== null && !peers.includes(modules.self)) peers.unshift(modules.self);
    this.failover = new GatewayFailover({ backoffMs: opts.federation.gatewayBackoffMs, maxBackoffMs: opts.federation.maxGatewayBackoffMs }, peers, modules.self);
  }

  get enabled(): boolean {
    return this.failover.gateways.length > 0;
  }

  /**
   * Places `spec` here, or through the federation: when it names another cluster or
   * region, when its key was already sent to another cluster, or when no local host fits.
   */
  async place(spec: JobSpec, placeLocal: (spec: JobSpec) => Promise<PlacementOutcome>): Promise<PlacementOutcome> {
    if (Object.hasOwn(spec.labels, ORIGIN_LABEL)) {
      throw new ShoalError('JOB_INVALID_SPEC', `invalid job spec: labels.${ORIGIN_LABEL}: reserved for jobs placed by other clusters`, {
        issues: [{ path: `labels.${ORIGIN_LABEL}`, message: 'reserved for jobs placed by other clusters' }],
      });
    }
    const route = burstRoute(spec, { cluster: this.opts.cluster, region: this.opts.region }, this.opts.burst && this.enabled);
    if (route === 'local') return placeLocal(spec);
    if (route === 'remote') {
      if (!this.enabled) {
        const where = spec.constraints.cluster !== undefined ? `cluster ${spec.constraints.cluster}` : `region ${spec.constraints.region}`;
        throw new FederationError('FEDERATION_NOT_CONFIGURED', `the job is for ${where}, but cluster ${this.opts.cluster} has no federation gateways ([federation] gateways)`);
      }
      return this.burst(spec, null);
    }
    if (spec.idempotencyKey !== undefined && !spec.idempotencyKey.startsWith(AUTO_KEY_PREFIX)) {
      // A retry of a key that already went to another cluster must find that job, not make a second one here.
      const bound = await this.boundCluster(spec.tenant, spec.idempotencyKey);
      if (bound !== null && bound !== this.opts.cluster) return this.burst(spec, null);
    }
    try {
      return await placeLocal(spec);
    } catch (err) {
      if (!(err instanceof ShoalError) || err.code !== 'JOB_UNPLACEABLE') throw err;
      return this.burst(spec, err);
    }
  }

  /** `ID@cluster` → the cluster (undefined for this one or a bare id) and the id inside it. */
  resolve(text: string): { cluster: string | undefined; id: string } {
    if (!text.includes('@')) return { cluster: undefined, id: text };
    const addr = parseGlobalAddress(text);
    return { cluster: addr.cluster === this.opts.cluster ? undefined : addr.cluster, id: addr.id };
  }

  async get(cluster: string, id: string): Promise<JobRecord | undefined> {
    return this.remoteJob('get', cluster, id);
  }

  async stop(cluster: string, id: string): Promise<JobRecord | undefined> {
    return this.remoteJob('stop', cluster, id);
  }

  info(): Record<string, unknown> {
    const now = this.modules.clock.now();
    return {
      gateways: this.failover.gateways,
      activeGateway: this.failover.active ?? null,
      backingOff: this.failover.backingOff(now),
      burst: this.opts.burst,
      region: this.opts.region,
    };
  }

  private async remoteJob(op: 'get' | 'stop', cluster: string, id: string): Promise<JobRecord | undefined> {
    if (!this.enabled) {
      throw new FederationError('FEDERATION_NOT_CONFIGURED', `job ${id}@${cluster} is in another cluster, but cluster ${this.opts.cluster} has no federation gateways`);
    }
    const reply = await this.call({ v: FEDERATION_WIRE_VERSION, op, cluster, id }, this.opts.federation.entryRequestTimeoutMs);
    if (!reply.ok) throw new ShoalError(reply.code, reply.message, reply.details ?? {});
    return reply.job ?? undefined;
  }

  private async burst(spec: JobSpec, local: ShoalError | null): Promise<PlacementOutcome> {
    const reply = await this.call({ v: FEDERATION_WIRE_VERSION, op: 'burst', spec: spec as unknown as Record<string, unknown> }, this.opts.federation.entryRequestTimeoutMs);
    if (reply.ok && reply.job) return { job: reply.job, created: reply.created ?? true };
    if (reply.ok) throw new FederationError('FEDERATION_UNAVAILABLE', 'the gateway placed the job but returned no record; ask again with the same idempotency key');
    throw combine(reply, local, this.opts.cluster);
  }

  private async boundCluster(tenant: string, key: string): Promise<string | null> {
    try {
      const reply = await this.call({ v: FEDERATION_WIRE_VERSION, op: 'lookup', tenant, key }, this.opts.federation.shortRequestTimeoutMs);
      return reply.ok ? (reply.cluster ?? null) : null;
    } catch (err) {
      // No gateway answers: nothing can have been sent elsewhere since, so local placement is safe to try.
      this.modules.logger.debug({ err: errorMessage(err) }, 'burst binding lookup failed; placing locally');
      return null;
    }
  }

  /** One entry request, to the gateways in failover order; FEDERATION_UNAVAILABLE when none answers. */
  private async call(req: EntryRequest, timeoutMs: number): Promise<Reply> {
    const { clock, mesh, gateway, metrics, self, logger } = this.modules;
    const problems: string[] = [];
    for (const gw of this.failover.order(clock.now())) {
      try {
        let reply: Reply;
        if (gw === self && gateway !== null) {
          reply = await gateway.serveEntry(req);
        } else {
          const addrs = this.addrs.get(gw) ?? [];
          if (addrs.length > 0 && !mesh.connectedPeers().includes(gw)) await mesh.dial(gw, addrs, { signal: AbortSignal.timeout(timeoutMs) });
          const bytes = await mesh.request(gw, FEDERATION_ENTRY_PROTOCOL, encodeFederationMessage(req, this.opts.federation.maxMessageBytes), { timeoutMs });
          reply = decodeReply(bytes, `gateway reply to ${req.op}`, this.opts.federation.maxMessageBytes);
        }
        this.failover.succeeded(gw);
        return reply;
      } catch (err) {
        this.failover.failed(gw, clock.now());
        metrics?.failovers.inc({ side: 'entry' });
        problems.push(`${gw}: ${errorMessage(err)}`);
        logger.warn({ gateway: gw, op: req.op, err: errorMessage(err) }, 'gateway failed; trying the next');
      }
    }
    throw new FederationError(
      'FEDERATION_UNAVAILABLE',
      `no gateway of cluster ${this.opts.cluster} answered (${problems.join('; ') || 'none configured'})${req.op === 'burst' ? '; the job may have been placed: retry with the same idempotency key' : ''}`,
      { op: req.op },
    );
  }
}

/**
 * The caller's error when a burst placed nothing. A refusal by policy or a conflict keeps its
 * code (asking again will not help); an outcome that may have created the job keeps its code
 * too (retry with the key); otherwise the job fits nowhere: JOB_UNPLACEABLE with this cluster's
 * reasons and every other cluster's.
 */
function combine(reply: Extract<Reply, { ok: false }>, local: ShoalError | null, cluster: string): ShoalError {
  const details = reply.details ?? {};
  if (local === null) return new ShoalError(reply.code, reply.message, details);
  const here = `in cluster ${cluster}: ${local.message}`;
  if (reply.code === 'JOB_UNPLACEABLE' || (reply.code === 'FEDERATION_UNAVAILABLE' && details.ambiguous === false)) {
    return new ShoalError('JOB_UNPLACEABLE', `${local.message}; no other cluster could take it either: ${reply.message}`, { ...local.details, federation: { code: reply.code, message: reply.message, ...details } });
  }
  return new ShoalError(reply.code, `${reply.message} (${here})`, { ...details, local: { message: local.message, ...local.details } });
}
