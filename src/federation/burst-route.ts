import type { JobSpec } from '../core/job.ts';
import type { ClusterRefusal } from './cluster-ranking.ts';

/**
 * Where an entry agent sends a job: its own cluster, its own cluster and then the
 * federation when nothing local fits, or straight to the federation when the spec names
 * another cluster or region.
 */
export type BurstRoute = 'local' | 'local-then-burst' | 'remote';

export interface LocalIdentity {
  readonly cluster: string;
  readonly region: string;
}

export function burstRoute(spec: JobSpec, local: LocalIdentity, burst: boolean): BurstRoute {
  const { cluster, region } = spec.constraints;
  if (cluster !== undefined) {
    if (cluster !== local.cluster) return 'remote';
    // Named our cluster: it runs here or nowhere.
    return 'local';
  }
  if (region !== undefined && region !== local.region) return 'remote';
  return burst ? 'local-then-burst' : 'local';
}

const POLICY_CODES = new Set(['FEDERATION_DENIED', 'FEDERATION_QUOTA_EXCEEDED']);

export interface BurstFailure {
  readonly code: string;
  readonly message: string;
}

/**
 * The error of a burst that placed nothing, from every cluster's refusal. Policy refusals
 * alone keep their code (403: asking again will not help); any capacity refusal makes it
 * JOB_UNPLACEABLE (422, exit 2 in the CLI), with every cluster's reason in the message.
 */
export function burstFailure(refusals: readonly ClusterRefusal[], ctx: { self: string; named: string | undefined; region: string | undefined; federated: readonly string[] }): BurstFailure {
  if (refusals.length === 0) {
    if (ctx.named !== undefined && !ctx.federated.includes(ctx.named)) {
      const others = ctx.federated.filter((c) => c !== ctx.self);
      return {
        code: 'FEDERATION_UNKNOWN_CLUSTER',
        message: `cluster ${ctx.named} is not federated with cluster ${ctx.self} (federated: ${others.length > 0 ? others.join(', ') : 'none'})`,
      };
    }
    if (ctx.region !== undefined) return { code: 'JOB_UNPLACEABLE', message: `no federated cluster in region ${ctx.region}` };
    return { code: 'JOB_UNPLACEABLE', message: 'no federated cluster to ask' };
  }
  const message = refusals.map((r) => r.message).join('; ');
  if (refusals.every((r) => POLICY_CODES.has(r.code))) {
    const code = refusals.every((r) => r.code === refusals[0]!.code) ? refusals[0]!.code : 'FEDERATION_DENIED';
    return { code, message };
  }
  if (refusals.every((r) => r.code === 'FEDERATION_UNAVAILABLE')) return { code: 'FEDERATION_UNAVAILABLE', message };
  return { code: 'JOB_UNPLACEABLE', message };
}

/** Codes after which nothing was created, so the burst may ask another cluster. */
export function isDefinitiveRefusal(code: string): boolean {
  return code === 'JOB_UNPLACEABLE' || POLICY_CODES.has(code) || code === 'FEDERATION_NOT_ALLOWED' || code === 'JOB_INVALID_SPEC' || code === 'FEDERATION_BAD_MESSAGE';
}
