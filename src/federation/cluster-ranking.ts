import type { Millis } from '../core/clock.ts';
import { hash32 } from '../core/hash.ts';
import type { JobSpec } from '../core/job.ts';
import { bucketFits, bucketRefusal, demandOf, describeRefusal, resourceRefusal, RefusalTally, type PlacementDemand } from '../placement/index.ts';
import type { ClusterSummary } from './cluster-summary.ts';
import { keyToken } from './quota-ledger.ts';

/**
 * Which remote clusters a burst asks, in order. Pure and deterministic: the order depends
 * only on the job's idempotency key and the summaries, never on a random draw, so two
 * gateways of one cluster with the same summaries send a retry of a key to the same cluster
 * (where that cluster's placement protocol deduplicates it).
 */

/** What a gateway knows of one remote cluster. */
export interface RemoteClusterState {
  readonly summary: ClusterSummary;
  /** Local clock when the newest summary arrived (remote clocks are not compared with ours). */
  readonly receivedAtMs: Millis;
  /** Whether that cluster's policy accepts jobs from ours at all, as its gateway told us. */
  readonly acceptsUs: boolean;
}

export interface ClusterCandidate {
  readonly cluster: string;
  /** Hosts that surely fit (`weakClusterWeight` for "maybe", less when the summary is stale). */
  readonly weight: number;
  readonly fit: 'sure' | 'maybe' | 'unknown';
}

export interface ClusterRefusal {
  readonly cluster: string;
  /** FEDERATION_DENIED (policy), JOB_UNPLACEABLE (capacity or constraints) or FEDERATION_UNAVAILABLE (no fresh summary). */
  readonly code: string;
  readonly message: string;
}

export interface ClusterRanking {
  readonly candidates: ClusterCandidate[];
  readonly refusals: ClusterRefusal[];
}

export interface RankingContext {
  /** This cluster: never a candidate. */
  readonly self: string;
  /** Every federated cluster (the allowlist), in config order. */
  readonly federated: readonly string[];
  readonly now: Millis;
  readonly maxSummaryAgeMs: Millis;
  readonly weakClusterWeight: number;
}

const FIT_RANK = { sure: 0, maybe: 1, unknown: 2 } as const;

/** O(clusters × buckets). */
export function rankClusters(spec: JobSpec, ctx: RankingContext, remotes: ReadonlyMap<string, RemoteClusterState>): ClusterRanking {
  const named = spec.constraints.cluster;
  const region = spec.constraints.region;
  const demand = demandOf(spec);
  const token = keyToken(spec.tenant, spec.idempotencyKey ?? spec.name);
  const scored: { c: ClusterCandidate; score: number }[] = [];
  const refusals: ClusterRefusal[] = [];
  const candidate = (cluster: string, weight: number, fit: ClusterCandidate['fit']): void => {
    scored.push({ c: { cluster, weight, fit }, score: rendezvousScore(token, cluster, weight) });
  };
  for (const cluster of ctx.federated) {
    if (cluster === ctx.self || (named !== undefined && cluster !== named)) continue;
    const state = remotes.get(cluster);
    if (state === undefined) {
      // Named explicitly: its gateways may still answer even though no summary came yet.
      if (named !== undefined) candidate(cluster, ctx.weakClusterWeight / 2, 'unknown');
      else refusals.push({ cluster, code: 'FEDERATION_UNAVAILABLE', message: `no summary from cluster ${cluster} yet` });
      continue;
    }
    const s = state.summary;
    if (region !== undefined && s.region !== region) {
      refusals.push({ cluster, code: 'JOB_UNPLACEABLE', message: `cluster ${cluster} is in region ${s.region}, not ${region}` });
      continue;
    }
    if (!state.acceptsUs) {
      refusals.push({ cluster, code: 'FEDERATION_DENIED', message: `cluster ${cluster} does not accept jobs from cluster ${ctx.self}` });
      continue;
    }
    const ageMs = ctx.now - state.receivedAtMs;
    if (ageMs > ctx.maxSummaryAgeMs) {
      if (named !== undefined) candidate(cluster, ctx.weakClusterWeight / 2, 'unknown');
      else refusals.push({ cluster, code: 'FEDERATION_UNAVAILABLE', message: `cluster ${cluster}'s last summary is ${Math.round(ageMs / 1000)} s old` });
      continue;
    }
    const tally = new RefusalTally();
    const fit = summaryFit(demand, s, tally);
    if (fit > 0) candidate(cluster, fit, 'sure');
    else if (fit < 0) candidate(cluster, ctx.weakClusterWeight, 'maybe');
    else refusals.push({ cluster, code: 'JOB_UNPLACEABLE', message: `cluster ${cluster}: ${describeRefusal(demand, tally, null)}` });
  }
  scored.sort((a, b) => FIT_RANK[a.c.fit] - FIT_RANK[b.c.fit] || b.score - a.score || (a.c.cluster < b.c.cluster ? -1 : 1));
  return { candidates: scored.map((x) => x.c), refusals };
}

/** Hosts that surely fit, -1 when some only might, 0 when none can; tallies why the others cannot. */
export function summaryFit(demand: PlacementDemand, s: ClusterSummary, tally: RefusalTally | null): number {
  let sure = 0;
  let maybe = false;
  for (const b of s.buckets) {
    const reason = bucketRefusal(demand, b);
    if (reason !== null) {
      tally?.add(reason, b.hosts);
      continue;
    }
    const fits = bucketFits(demand, b);
    if (fits > 0) {
      sure += fits;
      tally?.addFeasible(fits);
      if (b.hosts > fits) tally?.add('short-capacity', b.hosts - fits);
    } else {
      if (fits < 0) maybe = true;
      tally?.add(resourceRefusal(demand.resources, b.maxFree) ?? 'short-capacity', b.hosts);
    }
  }
  return sure > 0 ? sure : maybe ? -1 : 0;
}

/**
 * Weighted rendezvous (highest random weight) score: each key picks a cluster with
 * probability proportional to its weight, the same cluster on every gateway.
 */
export function rendezvousScore(token: string, cluster: string, weight: number): number {
  const u = (hash32(`${token}\u0000${cluster}`) + 0.5) / 4294967296;
  return weight / -Math.log(u);
}
