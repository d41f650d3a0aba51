import type { Millis } from '../core/clock.ts';
import type { JobSpec } from '../core/job.ts';
import { burstFailure, isDefinitiveRefusal } from './burst-route.ts';
import { rankClusters, type ClusterRefusal, type RemoteClusterState } from './cluster-ranking.ts';
import type { ErrorReply, Reply } from './messages.ts';

/**
 * One burst on a gateway, sans I/O: which remote cluster to ask next, and what each answer
 * means. The gateway service (and the simulator) carry out the steps: persist the binding,
 * send the job, feed the answer back.
 *
 *  - A key already bound to a cluster goes there first: the job may exist there.
 *  - Then the ranked clusters, at most `maxClustersTried` in all, until `deadline`.
 *  - A definitive refusal (nothing was created) moves on, and the binding must be dropped.
 *  - Any other failure may have created the job: the burst stops and the binding stays, so
 *    a retry of the key goes to the same cluster.
 */

export interface BurstContext {
  readonly self: string;
  readonly federated: readonly string[];
  readonly maxSummaryAgeMs: Millis;
  readonly weakClusterWeight: number;
  readonly maxClustersTried: number;
  /** No new cluster is asked at or after this time. */
  readonly deadline: Millis;
}

export type BurstVerdict =
  /** The burst is over: answer the entry with `reply`. */
  | { readonly type: 'done'; readonly reply: Reply }
  /** Nothing was created in that cluster: drop its binding, then ask `nextCluster` again. */
  | { readonly type: 'refused' };

export class BurstAttempt {
  readonly #spec: JobSpec;
  readonly #ctx: BurstContext;
  readonly #remotes: ReadonlyMap<string, RemoteClusterState>;
  readonly #bound: string | undefined;
  readonly #tried = new Set<string>();
  readonly #refusals: ClusterRefusal[] = [];
  #ranked: string[] | undefined;
  #asking: string | undefined;
  #outOfTime = false;

  constructor(spec: JobSpec, ctx: BurstContext, remotes: ReadonlyMap<string, RemoteClusterState>, bound: string | undefined) {
    this.#spec = spec;
    this.#ctx = ctx;
    this.#remotes = remotes;
    this.#bound = bound;
  }

  /** Clusters asked so far, in order. */
  get tried(): readonly string[] {
    return [...this.#tried];
  }

  /** The next cluster to ask (bind the key to it first), or null when the burst is exhausted: then `failure()`. */
  nextCluster(now: Millis): string | null {
    if (this.#tried.size >= this.#ctx.maxClustersTried) return null;
    if (now >= this.#ctx.deadline) {
      this.#outOfTime = true;
      return null;
    }
    let next: string | undefined;
    if (this.#bound !== undefined && !this.#tried.has(this.#bound)) next = this.#bound;
    else {
      if (this.#ranked === undefined) {
        const ranking = rankClusters(this.#spec, { ...this.#ctx, now }, this.#remotes);
        this.#ranked = ranking.candidates.map((c) => c.cluster);
        this.#refusals.push(...ranking.refusals);
      }
      while (next === undefined && this.#ranked.length > 0) {
        const c = this.#ranked.shift()!;
        if (!this.#tried.has(c)) next = c;
      }
    }
    if (next === undefined) return null;
    this.#tried.add(next);
    this.#asking = next;
    return next;
  }

  /** The answer of the cluster returned by the last `nextCluster`. */
  onReply(reply: Reply): BurstVerdict {
    const cluster = this.#asking!;
    this.#asking = undefined;
    if (reply.ok) return { type: 'done', reply: { ...reply, cluster } };
    const definitive = isDefinitiveRefusal(reply.code) || (reply.code === 'FEDERATION_UNAVAILABLE' && reply.details?.ambiguous === false);
    if (!definitive) {
      // A conflict is final but creates nothing new; anything else may have created the job there.
      const ambiguous = reply.code !== 'JOB_IDEMPOTENCY_CONFLICT';
      return { type: 'done', reply: { ok: false, code: reply.code, message: `cluster ${cluster}: ${reply.message}`, details: { ...reply.details, cluster, ambiguous } } };
    }
    this.#refusals.push({ cluster, code: reply.code, message: reply.message });
    return { type: 'refused' };
  }

  /** The answer when no cluster placed the job: every cluster's reason, and nothing was created. */
  failure(): ErrorReply {
    const f = burstFailure(this.#refusals, { self: this.#ctx.self, named: this.#spec.constraints.cluster, region: this.#spec.constraints.region, federated: this.#ctx.federated });
    const message = this.#outOfTime ? `${f.message}; out of time after asking ${this.#tried.size} cluster(s)` : f.message;
    return { ok: false, code: f.code, message, details: { refusals: this.#refusals, ambiguous: false } };
  }
}
