import { z } from 'zod';

/**
 * `[federation]` in a scenario file: the world's hosts form several clusters (one per
 * topology region), each with its own gossip mesh and placement, joined by gateways that run
 * src/federation's decisions. See simulations/README.md ("Federation") and
 * src/federation/README.md ("Simulator").
 */

const seconds = z.number().nonnegative();
const fraction = z.number().min(0).max(1);
const optionScalar = z.union([z.number(), z.boolean(), z.string(), z.null()]);

export const FederationLoadSchema = z.strictObject({
  /** First burst-load submission. */
  start_s: seconds.default(40),
  /** No submission after this (0 = until the end of the run). */
  end_s: seconds.default(0),
  /** Jobs per second, over all entry hosts of the `from` clusters. */
  rate_per_s: z.number().positive().default(50),
  /** The clusters whose hosts act as entries: the first `from_clusters` ones (the full ones, by default). */
  from_clusters: z.number().int().min(1).optional(),
  vcpus: z.number().int().positive().default(4),
  memory_mib: z.number().int().positive().default(8192),
  /** Tenant mix: name → weight (`default` when empty). */
  tenants: z.record(z.string(), z.number().nonnegative()).default({}),
  /** Fraction of jobs submitted again with the same idempotency key, through another entry host of the same cluster. */
  repeat_fraction: fraction.default(0.05),
  /** Delay of that second submission after the first (0: both at once, as two racing clients). */
  repeat_after_ms: seconds.default(0),
});

export const FederationSchema = z.strictObject({
  /** Number of clusters; must equal `[topology] regions` (cluster k is region k+1, its own WAN region). */
  clusters: z.number().int().min(2).max(64).default(10),
  gateways_per_cluster: z.number().int().min(1).max(8).default(2),
  /** The first `full_clusters` clusters start with every host's vCPUs reserved (local placement refuses). */
  full_clusters: z.number().int().nonnegative().default(2),
  /** Fraction of each host's vCPUs and memory reserved at boot in the other clusters. */
  other_fill: fraction.default(0.5),
  /** Clusters whose policy accepts no other cluster (`acceptClusters = []`), by index. */
  closed_clusters: z.array(z.number().int().nonnegative()).default([]),
  /** Tenants every cluster refuses from other clusters (FEDERATION_DENIED). */
  deny_tenants: z.array(z.string().min(1)).default([]),
  /** Per-tenant vCPU quota every cluster grants to remote jobs (FEDERATION_QUOTA_EXCEEDED beyond it). */
  tenant_quota_vcpus: z.record(z.string(), z.number().int().positive()).default({}),
  /** Overrides of src/federation's defaultFederationOptions, by snake_case name. */
  options: z.record(z.string(), optionScalar).default({}),
  load: FederationLoadSchema.prefault({}),
  /** Kill the gateway of cluster `kill_cluster` that served most bursts so far (null: no kill). */
  kill_at_s: seconds.nullable().default(null),
  kill_cluster: z.number().int().nonnegative().default(0),
  /**
   * `process`: the agent dies, the host stays up; connections to it are refused after one
   * round trip (kill -9). `power`: the host goes silent; requests to it time out.
   */
  kill_mode: z.enum(['process', 'power']).default('process'),
});

export type FederationSpec = z.output<typeof FederationSchema>;
