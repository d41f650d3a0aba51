import { JobSpecSchema, type JobRecord, type JobSpec, type Millis, type PeerIdStr } from '../../src/core/index.ts';
import {
  BurstAttempt,
  clusterAfterCopies,
  settleSiblingBinding,
  siblingUnbindAnswer,
  FEDERATION_WIRE_VERSION,
  GatewayFailover,
  QuotaLedger,
  RemoteDirectory,
  acceptsCluster,
  decideAdmission,
  decodeReply,
  emptyFederationStats,
  encodeFederationMessage,
  globalAddress,
  keyToken,
  summarizeCluster,
  tagOrigin,
  type ClusterSummary,
  type EntryRequest,
  type FederationOptions,
  type FederationPolicy,
  type FederationStats,
  type RemoteRequest,
  type Reply,
} from '../../src/federation/index.ts';
import type { CellSummary } from '../../src/gossip/records.ts';
import type { SubmitOutcome } from '../../src/placement/index.ts';
import type { FederationRpc, RpcAnswer, TrafficClass } from './rpc.ts';

/**
 * A gateway host in the simulator: the agent's GatewayService (src/agent/federation) with
 * its awaits turned into callbacks on the virtual clock. Every decision is src/federation's,
 * unchanged: summarizeCluster, RemoteDirectory, BurstAttempt (ranking, refusal semantics,
 * failure), GatewayFailover, decideAdmission, QuotaLedger, tagOrigin. This class only
 * sequences them and carries messages, in the order the gateway service does.
 */

export interface SimGatewayOptions {
  readonly cluster: string;
  readonly region: string;
  readonly self: PeerIdStr;
  readonly federation: FederationOptions;
  readonly policy: FederationPolicy;
  /** Every federated cluster → its gateways (this one's included; RemoteDirectory skips it). */
  readonly allowlist: Readonly<Record<string, readonly PeerIdStr[]>>;
  /** This cluster's other gateways: burst bindings are copied to them. */
  readonly siblings: readonly PeerIdStr[];
}

export interface SimGatewayModules {
  readonly rpc: FederationRpc;
  /** The gateway host's own placement node: it places remote jobs as their entry agent. */
  readonly placement: { submit(spec: JobSpec, now: Millis, done: (o: SubmitOutcome) => void): void };
  readonly view: { cellSummaries(): Iterable<CellSummary> };
  /** The host's clock (callbacks run later than the call that set them up). */
  readonly clock: () => Millis;
}

type Respond = (reply: Reply) => void;

export class SimGateway {
  readonly stats: FederationStats = emptyFederationStats();
  readonly directory: RemoteDirectory;
  /** Entry bursts served, and remote placements asked of this gateway (load spread). */
  burstsServed = 0;
  placesServed = 0;
  readonly #opts: SimGatewayOptions;
  readonly #m: SimGatewayModules;
  readonly #ledger = new QuotaLedger();
  readonly #bindings = new Map<string, string>();
  /** Keys this gateway has bound and is copying to its siblings; the job has not crossed yet. */
  readonly #pendingBinds = new Set<string>();
  /** Bursts running here, by key token. */
  readonly #flights = new Map<string, number>();
  readonly #remoteFailover = new Map<string, GatewayFailover>();
  readonly #siblingFailover: GatewayFailover;
  #summary: ClusterSummary | undefined;
  #nextExchangeAtMs = Infinity;

  constructor(opts: SimGatewayOptions, modules: SimGatewayModules) {
    this.#opts = opts;
    this.#m = modules;
    this.directory = new RemoteDirectory(opts.cluster, opts.allowlist);
    this.#siblingFailover = new GatewayFailover(this.#backoff(), opts.siblings);
  }

  start(now: Millis): void {
    this.#nextExchangeAtMs = now;
  }

  nextTimerAtMs(): Millis {
    return this.#nextExchangeAtMs;
  }

  onTimer(now: Millis): void {
    if (now >= this.#nextExchangeAtMs) this.#exchange(now);
  }

  get bindings(): number {
    return this.#bindings.size;
  }

  // ---- entry channel (this cluster's agents, over the mesh) ----

  serveEntry(req: EntryRequest, now: Millis, respond: Respond): void {
    switch (req.op) {
      case 'burst': {
        const parsed = JobSpecSchema.safeParse(req.spec);
        if (!parsed.success) return respond(invalidSpec(parsed.error.issues));
        this.burstsServed++;
        return this.#burst(parsed.data, now, respond);
      }
      case 'lookup':
        return respond({ ok: true, cluster: this.#bindings.get(keyToken(req.tenant, req.key)) ?? null });
      case 'bind': {
        const token = keyToken(req.tenant, req.key);
        if (req.cluster === null) {
          const kept = siblingUnbindAnswer(this.#bindings.get(token), this.#flights.has(token));
          if (kept === null) this.#bindings.delete(token);
          return respond({ ok: true, cluster: kept });
        }
        const cluster = settleSiblingBinding(this.#bindings.get(token), this.#pendingBinds.has(token), req.cluster);
        this.#bindings.set(token, cluster);
        return respond({ ok: true, cluster });
      }
      case 'get':
      case 'stop':
        return respond({ ok: false, code: 'FEDERATION_NOT_CONFIGURED', message: 'get/stop of remote jobs is not simulated' });
    }
  }

  // ---- federation channel (allowlisted gateways of other clusters) ----

  /** `origin` comes from the allowlist (RemoteDirectory.clusterOf), never from the message. */
  serveRemote(from: PeerIdStr, origin: string, req: RemoteRequest, now: Millis, respond: Respond): void {
    switch (req.op) {
      case 'summary': {
        const verdict = this.directory.onSummary(from, req.summary, req.acceptsYou, now);
        if (verdict === 'new') this.stats.summariesReceived++;
        else if (verdict === 'wrong-cluster') return respond({ ok: false, code: 'FEDERATION_NOT_ALLOWED', message: `gateway ${from} speaks for cluster ${origin}, not ${req.summary.cluster}` });
        return respond({ ok: true, summary: this.#currentSummary(now), acceptsYou: acceptsCluster(this.#opts.policy, origin) });
      }
      case 'place':
        this.placesServed++;
        return this.#placeForRemote(origin, req.spec, now, respond);
      case 'get':
      case 'stop':
        return respond({ ok: false, code: 'FEDERATION_NOT_CONFIGURED', message: 'get/stop of remote jobs is not simulated' });
    }
  }

  // ---- bursts ----

  #burst(spec: JobSpec, now: Millis, respond: Respond): void {
    const fed = this.#opts.federation;
    const key = spec.idempotencyKey;
    if (key === undefined) return respond({ ok: false, code: 'JOB_INVALID_SPEC', message: 'a job sent to another cluster needs an idempotency key' });
    const deadline = now + fed.burstBudgetMs;
    const token = keyToken(spec.tenant, key);
    this.#flights.set(token, (this.#flights.get(token) ?? 0) + 1);
    const attempt = new BurstAttempt(
      spec,
      { self: this.#opts.cluster, federated: this.directory.clusters, maxSummaryAgeMs: fed.maxSummaryAgeMs, weakClusterWeight: fed.weakClusterWeight, maxClustersTried: fed.maxClustersTried, deadline },
      this.directory.states(),
      this.#bindings.get(keyToken(spec.tenant, key)),
    );
    const done = (reply: Reply): void => {
      const n = this.#flights.get(token)! - 1;
      if (n === 0) this.#flights.delete(token);
      else this.#flights.set(token, n);
      if (reply.ok) this.stats.burstsPlaced++;
      else if (reply.details?.ambiguous === true) this.stats.burstsFailed++;
      else this.stats.burstsRefused++;
      respond(reply);
    };
    const step = (t: Millis): void => {
      const chosen = attempt.nextCluster(t);
      if (chosen === null) return done(attempt.failure());
      this.#bindBeforeCrossing(spec.tenant, key, chosen, t, (cluster, t2) =>
        this.#callCluster(cluster, { v: FEDERATION_WIRE_VERSION, op: 'place', spec: spec as unknown as Record<string, unknown> }, deadline, t2, (reply, t3) => {
          const verdict = attempt.onReply(reply.ok && reply.job ? { ...reply, job: globalJob(reply.job, cluster) } : reply);
          if (verdict.type === 'done') return done(verdict.reply);
          // A sibling still flying the key keeps its binding, and our next copy is answered with it.
          this.#copyBinding(spec.tenant, key, null, t3, (_answers, t4) => step(t4));
        }),
      );
    };
    step(now);
  }

  /** A job another cluster sends: policy and quota first, then this cluster's placement, as its entry agent. */
  #placeForRemote(origin: string, raw: Record<string, unknown>, now: Millis, respond: Respond): void {
    const parsed = JobSpecSchema.safeParse(raw);
    if (!parsed.success) return respond(invalidSpec(parsed.error.issues));
    const spec = parsed.data;
    const { cluster, region, policy } = this.#opts;
    if (spec.idempotencyKey === undefined) return respond({ ok: false, code: 'JOB_INVALID_SPEC', message: 'a job sent from another cluster needs an idempotency key' });
    if (spec.constraints.cluster !== undefined && spec.constraints.cluster !== cluster) {
      return respond({ ok: false, code: 'JOB_UNPLACEABLE', message: `the job is for cluster ${spec.constraints.cluster}, this is cluster ${cluster}` });
    }
    if (spec.constraints.region !== undefined && spec.constraints.region !== region) {
      return respond({ ok: false, code: 'JOB_UNPLACEABLE', message: `the job is for region ${spec.constraints.region}; cluster ${cluster} is in region ${region}` });
    }
    const token = keyToken(spec.tenant, spec.idempotencyKey);
    // No recount from a job listing (see src/federation/README.md, limits): the ledger holds what this gateway placed.
    const zero = { vcpus: 0, memoryMiB: 0 };
    const usage = this.#ledger.holds(token) ? { cluster: zero, tenant: zero } : this.#ledger.usage(origin, spec.tenant);
    const decision = decideAdmission(policy, { local: cluster, origin, tenant: spec.tenant, resources: spec.resources }, usage);
    if (!decision.ok) {
      this.stats.remoteRefused++;
      return respond({ ok: false, code: decision.code, message: decision.message, details: { refusal: decision.refusal } });
    }
    const reserved = this.#ledger.reserve(token, origin, spec.tenant, spec.resources);
    this.#m.placement.submit(tagOrigin(spec, origin), now, (o) => {
      if (o.type === 'placed') {
        if (reserved) this.#ledger.settle(token, o.jobId);
        this.stats.remotePlaced++;
        return respond({ ok: true, job: placedRecord(spec, o, this.#m.clock()), created: !o.duplicate });
      }
      if (reserved) this.#ledger.release(token);
      this.stats.remoteRefused++;
      // As the agent's ClusterJobs maps a placement outcome to its error.
      if (o.type === 'refused') return respond({ ok: false, code: 'JOB_UNPLACEABLE', message: o.message, details: { reasons: o.reasons, asks: o.asks } });
      const code = o.code === 'PLACEMENT_IDEMPOTENCY_CONFLICT' ? 'JOB_IDEMPOTENCY_CONFLICT' : o.code;
      respond({ ok: false, code, message: `placement failed: ${o.message}` });
    });
  }

  /** One request to a remote cluster, over its gateways in failover order, until `deadline`. */
  #callCluster(cluster: string, req: RemoteRequest, deadline: Millis, now: Millis, cb: (reply: Reply, now: Millis) => void): void {
    const failover = this.#failoverFor(cluster);
    const order = failover.order(now);
    const bytes = encodeFederationMessage(req, this.#opts.federation.maxMessageBytes);
    const problems: string[] = [];
    let ambiguous = false;
    const tryGateway = (k: number, t: Millis): void => {
      const gw = order[k];
      const left = deadline - t;
      if (gw === undefined || left <= 0) {
        if (gw !== undefined) problems.push('out of time');
        if (problems.length === 0) problems.push('no gateway allowlisted');
        return cb(
          {
            ok: false,
            code: 'FEDERATION_UNAVAILABLE',
            message: `no gateway of cluster ${cluster} answered (${problems.join('; ')})${ambiguous ? '; the job may exist there: retry with the same idempotency key' : ''}`,
            details: { cluster, ambiguous },
          },
          t,
        );
      }
      this.#m.rpc.request(gw, 'remote', classOf(req.op), bytes, Math.min(this.#opts.federation.remoteRequestTimeoutMs, left), t, (answer, t2) => {
        const reply = this.#decode(answer, `reply of ${cluster} to ${req.op}`);
        if (reply !== null) {
          failover.succeeded(gw);
          return cb(reply, t2);
        }
        failover.failed(gw, t2);
        this.stats.failovers++;
        if (answer.ok || answer.failure.delivered) ambiguous = true;
        problems.push(`${gw}: ${answer.ok ? 'bad reply' : answer.failure.code}`);
        tryGateway(k + 1, t2);
      });
    };
    tryGateway(0, now);
  }

  /**
   * Binds a key here and copies it to every ready sibling, as the agent's gateway does: the job
   * then goes to the cluster the siblings agree on (`settleSiblingBinding`, `clusterAfterCopies`).
   */
  #bindBeforeCrossing(tenant: string, key: string, chosen: string, now: Millis, then: (cluster: string, now: Millis) => void): void {
    const token = keyToken(tenant, key);
    const own = this.#bindings.get(token) ?? chosen;
    this.#pendingBinds.add(token);
    this.#copyBinding(tenant, key, own, now, (answers, t) => {
      this.#pendingBinds.delete(token);
      const cluster = clusterAfterCopies(this.#bindings.get(token) ?? own, answers);
      this.#bindings.set(token, cluster);
      then(cluster, t);
    });
  }

  /** Sets (or, with null, removes) a key's binding here, then copies it to every ready sibling and waits for them (bounded by the short timeout). */
  #copyBinding(tenant: string, key: string, cluster: string | null, now: Millis, then: (answers: (string | null | undefined)[], now: Millis) => void): void {
    const token = keyToken(tenant, key);
    if (cluster === null) this.#bindings.delete(token);
    else this.#bindings.set(token, cluster);
    const ready = this.#opts.siblings.filter((s) => this.#siblingFailover.isReady(s, now));
    if (ready.length === 0) return then([], now);
    const bytes = encodeFederationMessage({ v: FEDERATION_WIRE_VERSION, op: 'bind', tenant, key, cluster }, this.#opts.federation.maxMessageBytes);
    const answers: (string | null | undefined)[] = [];
    let left = ready.length;
    for (const s of ready) {
      this.#m.rpc.request(s, 'entry', 'burst', bytes, this.#opts.federation.shortRequestTimeoutMs, now, (answer, t) => {
        const reply = this.#decode(answer, 'binding copy');
        if (reply !== null) this.#siblingFailover.succeeded(s);
        else this.#siblingFailover.failed(s, t);
        answers.push(reply?.ok ? reply.cluster : undefined);
        if (--left === 0) then(answers, t);
      });
    }
  }

  // ---- summaries ----

  /** Pushes our summary to every remote gateway and takes theirs in the same round trip; the next round starts an interval after the last answer. */
  #exchange(now: Millis): void {
    this.#nextExchangeAtMs = Infinity;
    const summary = (this.#summary = this.#computeSummary(now));
    const gateways = this.directory.allGateways();
    const interval = this.#opts.federation.summaryIntervalMs;
    if (gateways.length === 0) {
      this.#nextExchangeAtMs = now + interval;
      return;
    }
    let left = gateways.length;
    for (const gw of gateways) {
      const cluster = this.directory.clusterOf(gw)!;
      const msg: RemoteRequest = { v: FEDERATION_WIRE_VERSION, op: 'summary', summary, acceptsYou: acceptsCluster(this.#opts.policy, cluster) };
      this.#m.rpc.request(gw, 'remote', 'summary', encodeFederationMessage(msg, this.#opts.federation.maxMessageBytes), this.#opts.federation.shortRequestTimeoutMs, now, (answer, t) => {
        const reply = this.#decode(answer, `summary reply of ${cluster}`);
        if (reply !== null) {
          this.stats.summariesSent++;
          if (reply.ok && reply.summary !== undefined && this.directory.onSummary(gw, reply.summary, reply.acceptsYou ?? false, t) === 'new') this.stats.summariesReceived++;
        }
        if (--left === 0) this.#nextExchangeAtMs = t + interval;
      });
    }
  }

  #currentSummary(now: Millis): ClusterSummary {
    this.#summary ??= this.#computeSummary(now);
    return this.#summary;
  }

  #computeSummary(now: Millis): ClusterSummary {
    return summarizeCluster({
      cluster: this.#opts.cluster,
      region: this.#opts.region,
      gateway: this.#opts.self,
      now,
      cells: this.#m.view.cellSummaries(),
      maxCellAgeMs: this.#opts.federation.maxCellAgeMs,
    });
  }

  #decode(answer: RpcAnswer, what: string): Reply | null {
    if (!answer.ok) return null;
    try {
      return decodeReply(answer.bytes, what, this.#opts.federation.maxMessageBytes);
    } catch {
      return null;
    }
  }

  #failoverFor(cluster: string): GatewayFailover {
    let f = this.#remoteFailover.get(cluster);
    if (f === undefined) {
      f = new GatewayFailover(this.#backoff(), this.directory.gatewaysOf(cluster), this.#opts.self);
      this.#remoteFailover.set(cluster, f);
    }
    return f;
  }

  #backoff(): { backoffMs: number; maxBackoffMs: number } {
    return { backoffMs: this.#opts.federation.gatewayBackoffMs, maxBackoffMs: this.#opts.federation.maxGatewayBackoffMs };
  }
}

export function classOf(op: string): TrafficClass {
  return op === 'summary' ? 'summary' : op === 'lookup' ? 'lookup' : 'burst';
}

/** As the agent's gateway service returns it: job and host by their global addresses. */
function globalJob(job: JobRecord, cluster: string): JobRecord {
  return { ...job, id: job.id.includes('@') ? job.id : globalAddress(job.id, cluster), host: job.host.includes('@') ? job.host : globalAddress(job.host, cluster) };
}

/** The record as placement reported it (the agent's ClusterJobs does the same when the host is not asked). */
function placedRecord(spec: JobSpec, o: Extract<SubmitOutcome, { type: 'placed' }>, now: Millis): JobRecord {
  return { id: o.jobId, spec, specDigest: '', host: o.host, driver: o.driver, desired: 'running', state: 'placed', epoch: o.epoch, createdAtMs: now, updatedAtMs: now };
}

function invalidSpec(issues: readonly { path: readonly PropertyKey[]; message: string }[]): Reply {
  const text = issues.slice(0, 5).map((i) => `${i.path.map(String).join('.') || '(root)'}: ${i.message}`);
  return { ok: false, code: 'JOB_INVALID_SPEC', message: `invalid job spec: ${text.join('; ')}`, details: { issues: text } };
}
