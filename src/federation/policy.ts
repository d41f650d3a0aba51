import type { Resources } from '../core/resources.ts';
import type { FederationErrorCode } from './errors.ts';

/**
 * Local governance: which remote clusters and tenants may place jobs in this cluster, and
 * up to what quota. Decided by the gateway that receives a remote placement, before the
 * placement protocol runs; each refusal says exactly which rule refused.
 */

/** Overrides for one remote cluster. */
export interface ClusterRule {
  /** Replaces the policy's `allowTenants` for this cluster when set. */
  readonly allowTenants?: readonly string[] | undefined;
  /** Added to the policy's `denyTenants`. */
  readonly denyTenants?: readonly string[] | undefined;
  /** vCPUs that all of this cluster's jobs here may reserve together. */
  readonly maxVcpus?: number | undefined;
  readonly maxMemoryMiB?: number | undefined;
}

/** A tenant's quota, whichever remote cluster its jobs come from. */
export interface TenantQuota {
  readonly maxVcpus?: number | undefined;
  readonly maxMemoryMiB?: number | undefined;
}

export interface FederationPolicy {
  /** Remote clusters whose jobs may run here; `*` admits every allowlisted cluster. */
  readonly acceptClusters: readonly string[];
  /** Tenants that may place here; `*` admits every tenant. */
  readonly allowTenants: readonly string[];
  /** Tenants refused whatever `allowTenants` says. */
  readonly denyTenants: readonly string[];
  readonly clusters: Readonly<Record<string, ClusterRule>>;
  readonly tenants: Readonly<Record<string, TenantQuota>>;
}

/** Accept nothing: a cluster lends capacity only when its operator says so. */
export const CLOSED_POLICY: FederationPolicy = Object.freeze({ acceptClusters: [], allowTenants: ['*'], denyTenants: [], clusters: {}, tenants: {} });

export const WILDCARD = '*';

/** vCPUs and memory reserved by remote jobs; disk is not governed by quota. */
export interface Usage {
  readonly vcpus: number;
  readonly memoryMiB: number;
}

export interface AdmissionQuestion {
  /** This cluster (for the messages). */
  readonly local: string;
  /** The cluster the job comes from, as its gateway's allowlisted identity says, never as the message claims. */
  readonly origin: string;
  readonly tenant: string;
  readonly resources: Resources;
}

export type PolicyRefusal = 'cluster' | 'tenant' | 'cluster-quota' | 'tenant-quota';

export type PolicyDecision =
  | { readonly ok: true }
  | { readonly ok: false; readonly code: Extract<FederationErrorCode, 'FEDERATION_DENIED' | 'FEDERATION_QUOTA_EXCEEDED'>; readonly refusal: PolicyRefusal; readonly message: string };

/** Config records are user-named keys: never read an inherited property such as `constructor`. */
function own<T>(rec: Readonly<Record<string, T>>, key: string): T | undefined {
  return Object.hasOwn(rec, key) ? rec[key] : undefined;
}

function listed(list: readonly string[], name: string): boolean {
  return list.includes(WILDCARD) || list.includes(name);
}

/** Whether jobs of `origin` may run here at all (what this cluster's summary tells `origin`). */
export function acceptsCluster(policy: FederationPolicy, origin: string): boolean {
  return listed(policy.acceptClusters, origin);
}

/**
 * The decision for one remote job. `usage` is what the origin cluster and the tenant already
 * reserve here (remote jobs only), the job itself excluded.
 */
export function decideAdmission(policy: FederationPolicy, q: AdmissionQuestion, usage: { cluster: Usage; tenant: Usage }): PolicyDecision {
  if (!acceptsCluster(policy, q.origin)) {
    return { ok: false, code: 'FEDERATION_DENIED', refusal: 'cluster', message: `cluster ${q.local} does not accept jobs from cluster ${q.origin}` };
  }
  const rule = own(policy.clusters, q.origin);
  const allow = rule?.allowTenants ?? policy.allowTenants;
  const denied = policy.denyTenants.includes(q.tenant) || (rule?.denyTenants?.includes(q.tenant) ?? false) || !listed(allow, q.tenant);
  if (denied) {
    return { ok: false, code: 'FEDERATION_DENIED', refusal: 'tenant', message: `cluster ${q.local} does not accept tenant ${q.tenant} from cluster ${q.origin}` };
  }
  if (rule !== undefined) {
    const over = overQuota(rule, usage.cluster, q.resources);
    if (over !== null) {
      return { ok: false, code: 'FEDERATION_QUOTA_EXCEEDED', refusal: 'cluster-quota', message: `cluster ${q.local}'s quota for cluster ${q.origin} would be exceeded: ${over}` };
    }
  }
  const tq = own(policy.tenants, q.tenant);
  if (tq !== undefined) {
    const over = overQuota(tq, usage.tenant, q.resources);
    if (over !== null) {
      return { ok: false, code: 'FEDERATION_QUOTA_EXCEEDED', refusal: 'tenant-quota', message: `cluster ${q.local}'s quota for tenant ${q.tenant} would be exceeded: ${over}` };
    }
  }
  return { ok: true };
}

/** Whether any quota applies to `origin` or `tenant` (usage must be counted only then). */
export function hasQuota(policy: FederationPolicy, origin: string, tenant: string): boolean {
  const rule = own(policy.clusters, origin);
  const tq = own(policy.tenants, tenant);
  return rule?.maxVcpus !== undefined || rule?.maxMemoryMiB !== undefined || tq?.maxVcpus !== undefined || tq?.maxMemoryMiB !== undefined;
}

function overQuota(limit: { readonly maxVcpus?: number | undefined; readonly maxMemoryMiB?: number | undefined }, used: Usage, want: Resources): string | null {
  if (limit.maxVcpus !== undefined && used.vcpus + want.vcpus > limit.maxVcpus) {
    return `${used.vcpus} of ${limit.maxVcpus} vCPUs in use, the job needs ${want.vcpus}`;
  }
  if (limit.maxMemoryMiB !== undefined && used.memoryMiB + want.memoryMiB > limit.maxMemoryMiB) {
    return `${used.memoryMiB} of ${limit.maxMemoryMiB} MiB memory in use, the job needs ${want.memoryMiB}`;
  }
  return null;
}
