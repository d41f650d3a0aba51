import type { Logger } from 'pino';
import type { Clock, Millis, TimerHandle } from '../../core/clock.ts';
import { errorMessage, ShoalError } from '../../core/errors.ts';
import { JobSpecSchema, type JobRecord, type JobSpec } from '../../core/job.ts';
import type { PeerIdStr, Transport } from '../../core/transport.ts';
import {
  EntryRequestSchema,
  FEDERATION_WIRE_VERSION,
  GatewayFailover,
  QuotaLedger,
  RemoteDirectory,
  acceptsCluster,
  BurstAttempt,
  clusterAfterCopies,
  decodeReply,
  settleSiblingBinding,
  siblingUnbindAnswer,
  decideAdmission,
  decodeFederationMessage,
  emptyFederationStats,
  encodeFederationMessage,
  globalAddress,
  hasQuota,
  keyToken,
  outcomeLabel,
  originOf,
  summarizeCluster,
  tagOrigin,
  type ClusterSummary,
  type EntryRequest,
  type FederationMetrics,
  type FederationOptions,
  type FederationPolicy,
  type FederationStats,
  type RemoteJob,
  type RemoteRequest,
  type Reply,
} from '../../federation/index.ts';
import type { ClusterView } from '../../gossip/index.ts';
import type { Identity } from '../../net/index.ts';
import type { BurstBinding, FederationStore } from '../../store/federation-store.ts';
import type { JobListing, PlacementOutcome } from '../job-service.ts';
import { FederationChannel, errorReply, type FederationChannelOptions } from './federation-channel.ts';
import { FEDERATION_ENTRY_PROTOCOL, type GatewayAddress } from './gateway-addresses.ts';

/**
 * A gateway: this cluster's door to the federation. It
 *  - exchanges cluster summaries (capacity by zone, driver and labels; never hosts) with the
 *    allowlisted gateways of other clusters, over its own federation channel;
 *  - takes bursts from this cluster's entry agents (over the mesh), picks a remote cluster
 *    from the summaries (`rankClusters`) and forwards the job to one of its gateways,
 *    failing over to the next gateway, then the next cluster when a refusal is definitive;
 *  - places jobs that other clusters send here, as their entry agent, after this cluster's
 *    policy and quotas agree;
 *  - resolves `ID@cluster` for get and stop in both directions.
 * A burst binding (key → cluster) is synced and copied to the sibling gateways before the job
 * crosses, so a retry of the key, through any gateway, goes to the same cluster.
 */

/** This cluster's jobs, without federation: what a gateway uses to serve remote clusters. */
export interface LocalCluster {
  place(spec: JobSpec): Promise<PlacementOutcome>;
  get(id: string): Promise<JobRecord | undefined>;
  stop(id: string): Promise<JobRecord | undefined>;
  /** Every job of the cluster (bounded fan-out), for quota recounts. */
  list(): Promise<JobListing>;
}

export interface GatewayServiceOptions {
  cluster: string;
  region: string;
  federation: FederationOptions;
  policy: FederationPolicy;
  /** Remote cluster → its gateways' peer ids. */
  allowlist: Record<string, readonly PeerIdStr[]>;
  channel: Omit<FederationChannelOptions, 'redialIntervalMs' | 'maxMessageBytes'>;
  /** This cluster's gateways (this one may be among them): burst bindings are copied to the others. */
  siblings: readonly GatewayAddress[];
}

export interface GatewayServiceModules {
  identity: Identity;
  clock: Clock;
  logger: Logger;
  /** The gossip view: every cell's summary. */
  view: Pick<ClusterView, 'cellSummaries'>;
  /** The cluster mesh, where entry agents reach this gateway. */
  mesh: Transport;
  store: FederationStore;
  local: LocalCluster;
  metrics: FederationMetrics | null;
}

/** Job states that no longer hold capacity: they do not count against a quota. */
const RELEASED_STATES = new Set(['stopped', 'failed', 'lost', 'fenced']);

export class GatewayService {
  readonly stats: FederationStats = emptyFederationStats();
  readonly directory: RemoteDirectory;
  private readonly opts: GatewayServiceOptions;
  private readonly modules: GatewayServiceModules;
  private readonly self: PeerIdStr;
  private readonly channel: FederationChannel;
  private readonly ledger = new QuotaLedger();
  private ledgerAtMs = -Infinity;
  private recounting: Promise<void> | undefined;
  private readonly bindings = new Map<string, BurstBinding>();
  /** Keys this gateway has bound and is copying to its siblings; the job has not crossed yet. */
  private readonly pendingBinds = new Set<string>();
  /** Bursts running here, by key token (a key may be burst twice at once through this gateway). */
  private readonly flights = new Map<string, number>();
  private readonly remoteFailover = new Map<string, GatewayFailover>();
  private readonly siblings: readonly GatewayAddress[];
  private readonly siblingFailover: GatewayFailover;
  private summary: ClusterSummary | undefined;
  private exchangeTimer: TimerHandle | undefined;
  private running = false;

  constructor(opts: GatewayServiceOptions, modules: GatewayServiceModules) {
    this.opts = opts;
    this.modules = modules;
    this.self = modules.identity.peerId;
    this.directory = new RemoteDirectory(opts.cluster, opts.allowlist);
    this.siblings = opts.siblings.filter((s) => s.peer !== this.self);
    this.siblingFailover = new GatewayFailover(this.backoff(), this.siblings.map((s) => s.peer));
    this.channel = new FederationChannel(
      { ...opts.channel, redialIntervalMs: opts.federation.summaryIntervalMs, maxMessageBytes: opts.federation.maxMessageBytes },
      { identity: modules.identity, directory: this.directory, clock: modules.clock, logger: modules.logger, metrics: modules.metrics, stats: this.stats },
    );
  }

  get cluster(): string {
    return this.opts.cluster;
  }

  async start(): Promise<void> {
    for (const b of await this.modules.store.all()) this.bindings.set(keyToken(b.tenant, b.key), b);
    this.modules.mesh.handle(FEDERATION_ENTRY_PROTOCOL, async (_from, data) => {
      let reply: Reply;
      try {
        reply = await this.serveEntry(decodeFederationMessage(data, EntryRequestSchema, 'federation entry request', this.opts.federation.maxMessageBytes));
      } catch (err) {
        reply = errorReply(err);
      }
      return encodeFederationMessage(reply, this.opts.federation.maxMessageBytes);
    });
    await this.channel.start((from, cluster, req) => this.serveRemote(from, cluster, req));
    this.running = true;
    this.scheduleExchange(0);
    this.modules.logger.info({ cluster: this.opts.cluster, federated: this.directory.clusters, bindings: this.bindings.size }, 'federation gateway started');
  }

  async stop(): Promise<void> {
    this.running = false;
    this.exchangeTimer?.cancel();
    this.exchangeTimer = undefined;
    await this.channel.stop();
  }

  /** What `shoal info` shows: remote clusters as their summaries describe them, and counters. */
  info(): Record<string, unknown> {
    const now = this.modules.clock.now();
    const remotes = [...this.directory.states()].map(([cluster, s]) => ({
      cluster,
      region: s.summary.region,
      acceptsUs: s.acceptsUs,
      ageMs: now - s.receivedAtMs,
      hosts: s.summary.hosts,
      buckets: s.summary.buckets,
    }));
    return {
      gateway: true,
      cluster: this.opts.cluster,
      listen: this.channel.listenAddrs(),
      connectedGateways: this.channel.connectedGateways(),
      federated: this.directory.clusters,
      remotes,
      summary: this.summary,
      bindings: this.bindings.size,
      /** Per remote cluster, the gateway that answered last (failover moves it). */
      remoteActive: Object.fromEntries([...this.remoteFailover].map(([cluster, f]) => [cluster, f.active ?? null])),
      quota: { remoteJobs: this.ledger.jobs, inFlight: this.ledger.pending },
      stats: this.stats,
    };
  }

  /** Entry requests, from this cluster's agents over the mesh or from this agent directly. */
  async serveEntry(req: EntryRequest): Promise<Reply> {
    switch (req.op) {
      case 'burst': {
        const parsed = JobSpecSchema.safeParse(req.spec);
        if (!parsed.success) return invalidSpec(parsed.error.issues);
        return this.burst(parsed.data);
      }
      case 'get':
      case 'stop':
        return this.remoteJob(req.op, req.cluster, req.id);
      case 'lookup':
        return { ok: true, cluster: this.bindings.get(keyToken(req.tenant, req.key))?.cluster ?? null };
      case 'bind': {
        const token = keyToken(req.tenant, req.key);
        if (req.cluster === null) {
          // A sibling unbinds after a refusal; our own flight of the key keeps it (binding-race.ts).
          const kept = siblingUnbindAnswer(this.bindings.get(token)?.cluster, this.flights.has(token));
          if (kept === null) await this.forgetBinding(req.tenant, req.key);
          return { ok: true, cluster: kept };
        }
        // A sibling's copy: answered with where the key goes (binding-race.ts).
        const cluster = settleSiblingBinding(this.bindings.get(token)?.cluster, this.pendingBinds.has(token), req.cluster);
        await this.keepBinding({ tenant: req.tenant, key: req.key, cluster, boundAtMs: this.modules.clock.now() });
        return { ok: true, cluster };
      }
    }
  }

  /** Sends a job this cluster cannot (or must not) run to another cluster (decisions: `BurstAttempt`). */
  async burst(spec: JobSpec): Promise<Reply> {
    const key = spec.idempotencyKey;
    if (key === undefined) return { ok: false, code: 'JOB_INVALID_SPEC', message: 'a job sent to another cluster needs an idempotency key' };
    const token = keyToken(spec.tenant, key);
    this.flights.set(token, (this.flights.get(token) ?? 0) + 1);
    try {
      return await this.fly(spec, key);
    } finally {
      const n = this.flights.get(token)! - 1;
      if (n === 0) this.flights.delete(token);
      else this.flights.set(token, n);
    }
  }

  /** One burst, cluster after cluster, while `flights` counts it. */
  private async fly(spec: JobSpec, key: string): Promise<Reply> {
    const { clock } = this.modules;
    const fed = this.opts.federation;
    const deadline = clock.now() + fed.burstBudgetMs;
    const attempt = new BurstAttempt(
      spec,
      {
        self: this.opts.cluster,
        federated: this.directory.clusters,
        maxSummaryAgeMs: fed.maxSummaryAgeMs,
        weakClusterWeight: fed.weakClusterWeight,
        maxClustersTried: fed.maxClustersTried,
        deadline,
      },
      this.directory.states(),
      this.bindings.get(keyToken(spec.tenant, key))?.cluster,
    );
    for (let chosen = attempt.nextCluster(clock.now()); chosen !== null; chosen = attempt.nextCluster(clock.now())) {
      let cluster: string;
      try {
        // A sibling bound the key meanwhile: the job goes where the siblings agree.
        cluster = await this.bindKey(spec.tenant, key, chosen);
      } catch (err) {
        return this.burstDone(errorReply(err));
      }
      const reply = await this.callCluster(cluster, { v: FEDERATION_WIRE_VERSION, op: 'place', spec }, deadline);
      const verdict = attempt.onReply(reply.ok && reply.job ? { ...reply, job: globalJob(reply.job, cluster) } : reply);
      if (verdict.type === 'done') return this.burstDone(verdict.reply);
      // A sibling still flying the key keeps its binding, and our next copy is answered with it.
      await this.dropBinding(spec.tenant, key);
    }
    return this.burstDone(attempt.failure());
  }

  private burstDone(reply: Reply): Reply {
    if (reply.ok) this.stats.burstsPlaced++;
    else if (reply.details?.ambiguous === true) this.stats.burstsFailed++;
    else this.stats.burstsRefused++;
    this.modules.metrics?.bursts.inc({ outcome: reply.ok ? (reply.created === false ? 'duplicate' : 'placed') : outcomeLabel(reply.code) });
    return reply;
  }

  /** `get`/`stop` of `id@cluster` on behalf of an entry agent. */
  async remoteJob(op: 'get' | 'stop', cluster: string, id: string): Promise<Reply> {
    if (!this.directory.clusters.includes(cluster)) {
      return { ok: false, code: 'FEDERATION_UNKNOWN_CLUSTER', message: `cluster ${cluster} is not federated with cluster ${this.opts.cluster}` };
    }
    const reply = await this.callCluster(cluster, { v: FEDERATION_WIRE_VERSION, op, id }, this.modules.clock.now() + this.opts.federation.burstBudgetMs);
    if (!reply.ok) return reply;
    return { ok: true, job: reply.job ? globalJob(reply.job, cluster) : null };
  }

  /** Requests from allowlisted gateways of other clusters; `origin` comes from the allowlist, not the message. */
  private async serveRemote(from: PeerIdStr, origin: string, req: RemoteRequest): Promise<Reply> {
    const { clock, local } = this.modules;
    switch (req.op) {
      case 'summary': {
        const verdict = this.directory.onSummary(from, req.summary, req.acceptsYou, clock.now());
        if (verdict === 'new') this.stats.summariesReceived++;
        else if (verdict === 'wrong-cluster') return { ok: false, code: 'FEDERATION_NOT_ALLOWED', message: `gateway ${from} speaks for cluster ${origin}, not ${req.summary.cluster}` };
        return { ok: true, summary: this.currentSummary(), acceptsYou: acceptsCluster(this.opts.policy, origin) };
      }
      case 'place':
        return this.placeForRemote(origin, req.spec);
      case 'get':
        return { ok: true, job: (await local.get(req.id)) ?? null };
      case 'stop': {
        const job = await local.get(req.id);
        if (job === undefined) return { ok: true, job: null };
        if (originOf(job) !== origin) {
          return { ok: false, code: 'FEDERATION_DENIED', message: `cluster ${this.opts.cluster} lets cluster ${origin} stop only the jobs it placed here; ${req.id} is not one` };
        }
        const stopped = await local.stop(req.id);
        this.ledger.remove(req.id);
        return { ok: true, job: stopped ?? null };
      }
    }
  }

  /** A job another cluster sends: policy and quota first, then this cluster's placement, as its entry agent. */
  private async placeForRemote(origin: string, raw: Record<string, unknown>): Promise<Reply> {
    const parsed = JobSpecSchema.safeParse(raw);
    if (!parsed.success) return invalidSpec(parsed.error.issues);
    const spec = parsed.data;
    const { cluster, region, policy } = this.opts;
    if (spec.idempotencyKey === undefined) return { ok: false, code: 'JOB_INVALID_SPEC', message: 'a job sent from another cluster needs an idempotency key' };
    if (spec.constraints.cluster !== undefined && spec.constraints.cluster !== cluster) {
      return { ok: false, code: 'JOB_UNPLACEABLE', message: `the job is for cluster ${spec.constraints.cluster}, this is cluster ${cluster}` };
    }
    if (spec.constraints.region !== undefined && spec.constraints.region !== region) {
      return { ok: false, code: 'JOB_UNPLACEABLE', message: `the job is for region ${spec.constraints.region}; cluster ${cluster} is in region ${region}` };
    }
    const token = keyToken(spec.tenant, spec.idempotencyKey);
    if (hasQuota(policy, origin, spec.tenant)) await this.recountIfDue();
    // A retry of a key this cluster already holds needs no new quota: placement answers the same job.
    const usage = this.ledger.holds(token) ? { cluster: { vcpus: 0, memoryMiB: 0 }, tenant: { vcpus: 0, memoryMiB: 0 } } : this.ledger.usage(origin, spec.tenant);
    const decision = decideAdmission(policy, { local: cluster, origin, tenant: spec.tenant, resources: spec.resources }, usage);
    if (!decision.ok) {
      this.stats.remoteRefused++;
      this.modules.logger.info({ origin, tenant: spec.tenant, refusal: decision.refusal }, 'refused a job from another cluster');
      return { ok: false, code: decision.code, message: decision.message, details: { refusal: decision.refusal } };
    }
    const reserved = this.ledger.reserve(token, origin, spec.tenant, spec.resources);
    try {
      const outcome = await this.modules.local.place(tagOrigin(spec, origin));
      if (reserved) this.ledger.settle(token, outcome.job.id);
      this.stats.remotePlaced++;
      return { ok: true, job: outcome.job, created: outcome.created };
    } catch (err) {
      if (reserved) this.ledger.release(token);
      this.stats.remoteRefused++;
      return errorReply(err);
    }
  }

  /** Counts what remote clusters reserve here from the jobs themselves, at most every quotaRefreshMs. */
  private async recountIfDue(): Promise<void> {
    const { clock, local, logger } = this.modules;
    if (clock.now() - this.ledgerAtMs < this.opts.federation.quotaRefreshMs) return;
    this.recounting ??= (async () => {
      const generation = this.ledger.beginRecount();
      try {
        const { jobs, missing } = await local.list();
        // A host that did not answer may hold remote jobs: counting without them would free quota they use.
        if (missing.length > 0) throw new Error(`the cluster listing lacks ${missing.length} hosts or cells (${missing.slice(0, 3).join(', ')})`);
        const remote: RemoteJob[] = [];
        for (const j of jobs) {
          const origin = originOf(j);
          if (origin === undefined || j.desired === 'deleted' || RELEASED_STATES.has(j.state)) continue;
          const r = j.spec.resources;
          remote.push({ jobId: j.id, origin, tenant: j.spec.tenant, keyToken: keyToken(j.spec.tenant, j.spec.idempotencyKey ?? j.id), vcpus: r.vcpus, memoryMiB: r.memoryMiB });
        }
        this.ledger.replace(remote, generation);
        this.ledgerAtMs = clock.now();
      } catch (err) {
        logger.warn({ err: errorMessage(err) }, 'could not recount remote jobs; quotas use the last count');
      } finally {
        this.recounting = undefined;
      }
    })();
    await this.recounting;
  }

  /** One request to a remote cluster, over its gateways in failover order, until `deadline`. */
  private async callCluster(cluster: string, req: RemoteRequest, deadline: Millis): Promise<Reply> {
    const { clock, metrics } = this.modules;
    const failover = this.failoverFor(cluster);
    const problems: string[] = [];
    let ambiguous = false;
    for (const gw of failover.order(clock.now())) {
      const left = deadline - clock.now();
      if (left <= 0) {
        problems.push('out of time');
        break;
      }
      try {
        const reply = await this.channel.request(gw, req, Math.min(this.opts.federation.remoteRequestTimeoutMs, left));
        failover.succeeded(gw);
        metrics?.remoteSent.inc({ op: req.op, outcome: reply.ok ? 'ok' : outcomeLabel(reply.code) });
        return reply;
      } catch (err) {
        failover.failed(gw, clock.now());
        this.stats.failovers++;
        metrics?.failovers.inc({ side: 'remote' });
        metrics?.remoteSent.inc({ op: req.op, outcome: err instanceof ShoalError ? outcomeLabel(err.code) : 'other' });
        if (possiblyDelivered(err)) ambiguous = true;
        problems.push(`${shortId(gw)}: ${errorMessage(err)}`);
        this.modules.logger.warn({ cluster, gateway: gw, op: req.op, err: errorMessage(err) }, 'remote gateway failed; trying the next');
      }
    }
    if (problems.length === 0) problems.push('no gateway allowlisted');
    return {
      ok: false,
      code: 'FEDERATION_UNAVAILABLE',
      message: `no gateway of cluster ${cluster} answered (${problems.join('; ')})${ambiguous ? '; the job may exist there: retry with the same idempotency key' : ''}`,
      details: { cluster, ambiguous },
    };
  }

  private failoverFor(cluster: string): GatewayFailover {
    let f = this.remoteFailover.get(cluster);
    if (f === undefined) {
      f = new GatewayFailover(this.backoff(), this.directory.gatewaysOf(cluster), this.self);
      this.remoteFailover.set(cluster, f);
    }
    return f;
  }

  private backoff(): { backoffMs: number; maxBackoffMs: number } {
    return { backoffMs: this.opts.federation.gatewayBackoffMs, maxBackoffMs: this.opts.federation.maxGatewayBackoffMs };
  }

  /**
   * Synced here, then copied to the sibling gateways (best effort, bounded), before the job
   * crosses. Returns the cluster the job goes to: `chosen`, unless a sibling bound the key
   * first or settled a simultaneous binding on another cluster (binding-race.ts).
   */
  private async bindKey(tenant: string, key: string, chosen: string): Promise<string> {
    const token = keyToken(tenant, key);
    const own = this.bindings.get(token)?.cluster ?? chosen;
    this.pendingBinds.add(token);
    try {
      await this.keepBinding({ tenant, key, cluster: own, boundAtMs: this.modules.clock.now() });
      const answers = await this.copyToSiblings(tenant, key, own);
      // A sibling's copy may have settled our binding meanwhile: start from what we hold now.
      const cluster = clusterAfterCopies(this.bindings.get(token)?.cluster ?? own, answers);
      await this.keepBinding({ tenant, key, cluster, boundAtMs: this.modules.clock.now() });
      return cluster;
    } finally {
      this.pendingBinds.delete(token);
    }
  }

  /** Nothing was created in the bound cluster: forget the binding here and at the siblings, unless a sibling's flight holds it. */
  private async dropBinding(tenant: string, key: string): Promise<void> {
    await this.forgetBinding(tenant, key);
    await this.copyToSiblings(tenant, key, null);
  }

  /** The clusters the awaited siblings answered (see `settleSiblingBinding`); a failed copy answers nothing. */
  private async copyToSiblings(tenant: string, key: string, cluster: string | null): Promise<(string | null | undefined)[]> {
    if (this.siblings.length === 0) return [];
    const { clock, mesh, metrics } = this.modules;
    const bytes = encodeFederationMessage({ v: FEDERATION_WIRE_VERSION, op: 'bind', tenant, key, cluster }, this.opts.federation.maxMessageBytes);
    const now = clock.now();
    const connected = new Set(mesh.connectedPeers());
    const awaited: Promise<string | null | undefined>[] = [];
    for (const s of this.siblings) {
      // A sibling that just failed is skipped for its back-off: a burst must not wait on it each time.
      if (!this.siblingFailover.isReady(s.peer, now)) continue;
      const copy = (async () => {
        try {
          if (!connected.has(s.peer)) await mesh.dial(s.peer, s.addrs, { signal: AbortSignal.timeout(this.opts.federation.shortRequestTimeoutMs) });
          const answer = await mesh.request(s.peer, FEDERATION_ENTRY_PROTOCOL, bytes, { timeoutMs: this.opts.federation.shortRequestTimeoutMs });
          this.siblingFailover.succeeded(s.peer);
          const reply = decodeReply(answer, 'a binding copy answer', this.opts.federation.maxMessageBytes);
          return reply.ok ? reply.cluster : undefined;
        } catch (err) {
          this.siblingFailover.failed(s.peer, clock.now());
          metrics?.failovers.inc({ side: 'sibling' });
          this.modules.logger.debug({ sibling: s.peer, err: errorMessage(err) }, 'could not copy a burst binding to a sibling gateway');
          return undefined;
        }
      })();
      // A connected sibling answers in milliseconds: wait for it. One we must dial first may be
      // dead (libp2p then retries for seconds): copy in the background instead of holding the burst.
      if (connected.has(s.peer)) awaited.push(copy);
    }
    return Promise.all(awaited);
  }

  private async keepBinding(binding: BurstBinding): Promise<void> {
    const token = keyToken(binding.tenant, binding.key);
    if (this.bindings.get(token)?.cluster === binding.cluster) return;
    await this.modules.store.save(binding);
    this.bindings.set(token, binding);
  }

  private async forgetBinding(tenant: string, key: string): Promise<void> {
    const token = keyToken(tenant, key);
    if (!this.bindings.delete(token)) return;
    await this.modules.store.remove(tenant, key).catch((err: unknown) => this.modules.logger.warn({ err: errorMessage(err) }, 'could not remove a burst binding'));
  }

  private currentSummary(): ClusterSummary {
    this.summary ??= this.computeSummary();
    return this.summary;
  }

  private computeSummary(): ClusterSummary {
    return summarizeCluster({
      cluster: this.opts.cluster,
      region: this.opts.region,
      gateway: this.self,
      now: this.modules.clock.now(),
      cells: this.modules.view.cellSummaries(),
      maxCellAgeMs: this.opts.federation.maxCellAgeMs,
    });
  }

  private scheduleExchange(delayMs: number): void {
    if (!this.running) return;
    this.exchangeTimer = this.modules.clock.schedule(delayMs, () => {
      void this.exchange().finally(() => this.scheduleExchange(this.opts.federation.summaryIntervalMs));
    });
  }

  /** Push our summary to every remote gateway and take theirs in the same round trip. */
  private async exchange(): Promise<void> {
    const { clock, metrics } = this.modules;
    const summary = (this.summary = this.computeSummary());
    await Promise.all(
      this.directory.allGateways().map(async (gw) => {
        const cluster = this.directory.clusterOf(gw)!;
        try {
          const reply = await this.channel.request(
            gw,
            { v: FEDERATION_WIRE_VERSION, op: 'summary', summary, acceptsYou: acceptsCluster(this.opts.policy, cluster) },
            this.opts.federation.shortRequestTimeoutMs,
          );
          this.stats.summariesSent++;
          metrics?.remoteSent.inc({ op: 'summary', outcome: reply.ok ? 'ok' : outcomeLabel(reply.code) });
          if (reply.ok && reply.summary !== undefined && this.directory.onSummary(gw, reply.summary, reply.acceptsYou ?? false, clock.now()) === 'new') {
            this.stats.summariesReceived++;
          }
        } catch (err) {
          metrics?.remoteSent.inc({ op: 'summary', outcome: err instanceof ShoalError ? outcomeLabel(err.code) : 'other' });
          this.modules.logger.debug({ cluster, gateway: gw, err: errorMessage(err) }, 'summary exchange failed');
        }
      }),
    );
  }
}

/** The record as seen from another cluster: job and host by their global addresses. */
export function globalJob(job: JobRecord, cluster: string): JobRecord {
  return { ...job, id: job.id.includes('@') ? job.id : globalAddress(job.id, cluster), host: job.host.includes('@') ? job.host : globalAddress(job.host, cluster) };
}

function invalidSpec(issues: readonly { path: readonly PropertyKey[]; message: string }[]): Reply {
  const text = issues.slice(0, 5).map((i) => `${i.path.map(String).join('.') || '(root)'}: ${i.message}`);
  return { ok: false, code: 'JOB_INVALID_SPEC', message: `invalid job spec: ${text.join('; ')}`, details: { issues: text } };
}

/**
 * Whether a failed request may have reached the remote handler. Failures to connect did
 * not; a timeout or a broken stream after sending may have.
 */
function possiblyDelivered(err: unknown): boolean {
  if (!(err instanceof ShoalError)) return true;
  switch (err.code) {
    case 'NET_UNREACHABLE':
    case 'NET_NO_HANDLER':
    case 'NET_NOT_STARTED':
    case 'NET_INVALID_PEER_ID':
    case 'NET_REMOTE_ERROR':
      return false;
    case 'NET_FRAME_TOO_LARGE':
      return err.details.remote === true;
    case 'NET_TIMEOUT':
      return err.details.stage !== 'dial';
    default:
      return true;
  }
}

function shortId(peer: PeerIdStr): string {
  return peer.length > 16 ? `…${peer.slice(-8)}` : peer;
}
