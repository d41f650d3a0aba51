import type { JobSpec, Millis, PeerIdStr } from '../../src/core/index.ts';
import { FEDERATION_WIRE_VERSION, GatewayFailover, ORIGIN_LABEL, burstRoute, decodeReply, encodeFederationMessage, type EntryRequest, type FederationOptions, type Reply } from '../../src/federation/index.ts';
import type { SubmitOutcome } from '../../src/placement/index.ts';
import type { FederationRpc } from './rpc.ts';
import { classOf, type SimGateway } from './sim-gateway.ts';

/**
 * An entry host's side of federation: the agent's FederatedJobs (src/agent/federation) on
 * the virtual clock. `burstRoute` decides; a keyed job first asks a gateway whether its key
 * was already sent elsewhere; local placement runs the host's own PlacementNode; a refusal
 * (JOB_UNPLACEABLE) hands the spec to one of the cluster's gateways, failing over with
 * `GatewayFailover` rotated by this host's id. A host that is a gateway calls itself.
 */

export type EntryOutcome =
  | { readonly via: 'local'; readonly outcome: SubmitOutcome }
  | { readonly via: 'burst'; readonly reply: Reply; readonly burstAtMs: Millis };

export interface SimEntryOptions {
  readonly cluster: string;
  readonly region: string;
  readonly self: PeerIdStr;
  readonly gateways: readonly PeerIdStr[];
  readonly federation: FederationOptions;
}

export interface SimEntryModules {
  readonly rpc: FederationRpc;
  readonly placement: { submit(spec: JobSpec, now: Millis, done: (o: SubmitOutcome) => void): void };
  readonly gateway: SimGateway | null;
  readonly clock: () => Millis;
}

/** JobService's auto keys: never retried, so never looked up. */
const AUTO_KEY_PREFIX = 'auto-';

export class SimEntry {
  readonly #opts: SimEntryOptions;
  readonly #m: SimEntryModules;
  readonly #failover: GatewayFailover;
  failovers = 0;

  constructor(opts: SimEntryOptions, modules: SimEntryModules) {
    this.#opts = opts;
    this.#m = modules;
    this.#failover = new GatewayFailover({ backoffMs: opts.federation.gatewayBackoffMs, maxBackoffMs: opts.federation.maxGatewayBackoffMs }, opts.gateways, opts.self);
  }

  place(spec: JobSpec, now: Millis, done: (r: EntryOutcome, now: Millis) => void): void {
    if (Object.hasOwn(spec.labels, ORIGIN_LABEL)) throw new Error(`labels.${ORIGIN_LABEL} is reserved for jobs placed by other clusters`);
    const route = burstRoute(spec, { cluster: this.#opts.cluster, region: this.#opts.region }, this.#opts.gateways.length > 0);
    const burst = (t: Millis): void => {
      const req: EntryRequest = { v: FEDERATION_WIRE_VERSION, op: 'burst', spec: spec as unknown as Record<string, unknown> };
      this.#call(req, this.#opts.federation.entryRequestTimeoutMs, t, (reply, t2) => done({ via: 'burst', reply, burstAtMs: t }, t2));
    };
    const local = (t: Millis): void =>
      this.#m.placement.submit(spec, t, (o) => {
        const t2 = this.#m.clock();
        if (o.type === 'refused' && route === 'local-then-burst') burst(t2);
        else done({ via: 'local', outcome: o }, t2);
      });
    if (route === 'local') return local(now);
    if (route === 'remote') return burst(now);
    const key = spec.idempotencyKey;
    if (key === undefined || key.startsWith(AUTO_KEY_PREFIX)) return local(now);
    // A retry of a key that already went to another cluster must find that job, not make a second one here.
    this.#call({ v: FEDERATION_WIRE_VERSION, op: 'lookup', tenant: spec.tenant, key }, this.#opts.federation.shortRequestTimeoutMs, now, (reply, t) => {
      const bound = reply.ok ? (reply.cluster ?? null) : null;
      if (bound !== null && bound !== this.#opts.cluster) burst(t);
      else local(t);
    });
  }

  /** One entry request to the gateways in failover order; FEDERATION_UNAVAILABLE when none answers. */
  #call(req: EntryRequest, timeoutMs: Millis, now: Millis, cb: (reply: Reply, now: Millis) => void): void {
    const order = this.#failover.order(now);
    const bytes = encodeFederationMessage(req, this.#opts.federation.maxMessageBytes);
    const problems: string[] = [];
    const tryGateway = (k: number, t: Millis): void => {
      const gw = order[k];
      if (gw === undefined) {
        return cb(
          {
            ok: false,
            code: 'FEDERATION_UNAVAILABLE',
            message: `no gateway of cluster ${this.#opts.cluster} answered (${problems.join('; ') || 'none configured'})${req.op === 'burst' ? '; the job may have been placed: retry with the same idempotency key' : ''}`,
            details: { op: req.op, ambiguous: req.op === 'burst' },
          },
          t,
        );
      }
      const gateway = this.#m.gateway;
      if (gw === this.#opts.self && gateway !== null) {
        return gateway.serveEntry(req, t, (reply) => {
          this.#failover.succeeded(gw);
          cb(reply, this.#m.clock());
        });
      }
      this.#m.rpc.request(gw, 'entry', classOf(req.op), bytes, timeoutMs, t, (answer, t2) => {
        let reply: Reply | null = null;
        if (answer.ok) {
          try {
            reply = decodeReply(answer.bytes, `gateway reply to ${req.op}`, this.#opts.federation.maxMessageBytes);
          } catch {
            reply = null;
          }
        }
        if (reply !== null) {
          this.#failover.succeeded(gw);
          return cb(reply, t2);
        }
        this.#failover.failed(gw, t2);
        this.failovers++;
        problems.push(`${gw}: ${answer.ok ? 'bad reply' : answer.failure.code}`);
        tryGateway(k + 1, t2);
      });
    };
    tryGateway(0, now);
  }
}
