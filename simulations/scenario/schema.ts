import { z } from 'zod';
import { ASSERTION_OPS } from './assertions.ts';
import { FederationSchema } from '../federation/schema.ts';

/**
 * A scenario file (`simulations/scenarios/*.toml`): the cluster, what happens to it, the load,
 * and the assertions the run must meet. Keys are snake_case; every object is strict, so a
 * misspelt key is an error rather than a silently ignored setting.
 *
 * Option tables (`[gossip]`, `[placement]`, `[gossipsub]`, `[network]`, `[topology]`) override
 * the defaults of the code they configure; their keys are checked against those defaults
 * when the run is built (see `options-override.ts`), so the file cannot drift from the code.
 */

const seconds = z.number().nonnegative();
const fraction = z.number().min(0).max(1);
const optionScalar = z.union([z.number(), z.boolean(), z.string(), z.null()]);
/** Scalars, or one level of sub-table (the gossip topic budgets: `[gossip.cell_topic]`). */
const optionTable = z.record(z.string(), z.union([optionScalar, z.record(z.string(), optionScalar)]));

export const StartSchema = z.strictObject({
  /** `warm`: every host starts within `spread_s` knowing a few seeds; `cold`: the whole cluster boots at `join_rate_per_s`. */
  mode: z.enum(['warm', 'cold']).default('warm'),
  /** Cold start: hosts started per second (a rate-limited boot, as a deployment tool would). */
  join_rate_per_s: z.number().positive().default(2000),
  /** Warm start: start times are spread over this many seconds. */
  spread_s: seconds.default(1),
  /** Seed peers each new host is given (random among hosts already started). */
  seeds: z.number().int().min(1).max(16).default(3),
});

const at = { at_s: seconds };

export const EventSchema = z.discriminatedUnion('action', [
  /** Power loss of a whole zone (`zone` by name like `r1-a`, or index). */
  z.strictObject({ ...at, action: z.literal('crash-zone'), zone: z.union([z.string(), z.number().int().nonnegative()]) }),
  /** Correlated failure of `fraction` of live hosts, whole power domains (or zones, or random hosts) at a time. */
  z.strictObject({ ...at, action: z.literal('crash-fraction'), fraction, by: z.enum(['power-domain', 'zone', 'random']).default('power-domain') }),
  /** Graceful leave of `count` random live hosts. */
  z.strictObject({ ...at, action: z.literal('leave'), count: z.number().int().positive() }),
  /** Restart every crashed or departed host at `rate_per_s` (each with a higher incarnation). */
  z.strictObject({ ...at, action: z.literal('restart'), rate_per_s: z.number().positive().default(1000) }),
  /** New hosts join: `count` of them at `rate_per_s`. */
  z.strictObject({ ...at, action: z.literal('join-wave'), count: z.number().int().positive(), rate_per_s: z.number().positive().default(100) }),
  /** Splits the cluster: by region, by zone, or a random `fraction` of hosts apart from the rest. */
  z.strictObject({ ...at, action: z.literal('partition'), by: z.enum(['zone', 'region', 'fraction']).default('zone'), fraction: fraction.default(0.5) }),
  z.strictObject({ ...at, action: z.literal('heal') }),
  /** Bit-flipped copies of real messages, injected by their own publishers (the S3 case). */
  z.strictObject({ ...at, action: z.literal('corrupt'), count: z.number().int().positive().default(1), topic_kind: z.string().default('cell') }),
  /** Hosts crash (or leave) at `rate_per_s` and come back after `down_s` on average, for `duration_s`. */
  z.strictObject({
    ...at,
    action: z.literal('churn'),
    rate_per_s: z.number().positive(),
    duration_s: z.number().positive(),
    down_s: z.number().positive().default(30),
    mode: z.enum(['crash', 'leave']).default('crash'),
  }),
  /** Free capacity changes on `fraction` of hosts per second for `duration_s` (drives record and summary freshness). */
  z.strictObject({ ...at, action: z.literal('capacity-drift'), fraction_per_s: fraction, duration_s: z.number().positive() }),
]);

export const LoadSchema = z.strictObject({
  start_s: seconds.default(10),
  /** Placements submitted per second, cluster-wide, each through a random entry host. */
  rate_per_s: z.number().positive().default(2000),
  /** Stop submitting once this fraction of the cluster's vCPUs is reserved. */
  target_utilization: z.number().min(0.05).max(0.98).default(0.8),
  /** At most this many distinct hosts act as entry points (0 = any host). */
  entry_hosts: z.number().int().nonnegative().default(0),
  /** VM shape mix (see shapes.ts for the source). */
  shapes: z.enum(['azure-2019', 'ladder']).default('azure-2019'),
  policy: z.enum(['binpack', 'spread']).default('binpack'),
  /** Mean job lifetime; 0 = jobs live for the rest of the run. */
  lifetime_s: seconds.default(0),
  /** Stop submitting after this many seconds, whatever the utilization (0 = no limit). */
  max_duration_s: seconds.default(0),
  /** Fraction of requests sent twice, through two different entry hosts, with one idempotency key. */
  duplicate_submit_fraction: fraction.default(0.01),
});

export const HostsSchema = z.strictObject({
  /** Host shape mix (see shapes.ts). */
  shapes: z.enum(['mixed', 'uniform']).default('mixed'),
  /** Overcommit ratio applied to vCPUs (memory and disk are never overcommitted). */
  cpu_overcommit: z.number().min(1).max(16).default(2),
});

export const BaselinesSchema = z.strictObject({
  /** Naive flat gossip of full state (how S3 gossiped), simulated at up to `flat_max_nodes` and extrapolated. */
  flat_gossip: z.boolean().default(true),
  flat_max_nodes: z.number().int().min(10).default(1000),
  flat_duration_s: z.number().positive().default(30),
  /** Central omniscient best-fit placer: the packing limit. */
  best_fit: z.boolean().default(true),
});

export const MetricsSchema = z.strictObject({
  /** Hosts whose view is checked each second (convergence, freshness). */
  sample_hosts: z.number().int().positive().default(500),
  /** A disturbance is over when this fraction of sampled live hosts has a correct view. */
  convergence_threshold: fraction.default(0.99),
  /** Seconds excluded from steady-state figures at the start (joins and mesh building). */
  warmup_s: seconds.default(30),
  /** [from, to] seconds of the steady window; defaults to warm-up → first event. */
  steady_window_s: z.tuple([seconds, seconds]).optional(),
});

export const AssertionSchema = z.strictObject({
  metric: z.string().min(1),
  op: z.enum(ASSERTION_OPS),
  value: z.number(),
  /** Why this bound: shown when it fails. */
  why: z.string().optional(),
});

export const ScenarioSchema = z.strictObject({
  name: z.string().min(1).max(80),
  description: z.string().default(''),
  /** Which host model runs: `shoal` (src/gossip + src/placement), `flat` (the naive baseline) or `synthetic` (engine benchmark, no protocol). */
  protocol: z.enum(['shoal', 'flat', 'synthetic']).default('shoal'),
  nodes: z.number().int().min(2).max(1_000_000).default(1000),
  duration_s: z.number().positive().default(120),
  seed: z.number().int().nonnegative().default(1),
  start: StartSchema.prefault({}),
  topology: optionTable.default({}),
  network: optionTable.default({}),
  gossipsub: optionTable.default({}),
  gossip: optionTable.default({}),
  /** Gossip profile the overrides apply to. */
  gossip_profile: z.enum(['lan', 'wan', 'large']).default('large'),
  placement: optionTable.default({}),
  /** Replicated job records and evacuation of failed hosts (src/placement/recovery); absent = off. Keys override its defaults. */
  recovery: optionTable.optional(),
  hosts: HostsSchema.prefault({}),
  flat: z.strictObject({ interval_ms: z.number().positive().default(5000) }).prefault({}),
  events: z.array(EventSchema).default([]),
  load: LoadSchema.optional(),
  /** Several clusters joined by gateways (simulations/federation); absent: one cluster. */
  federation: FederationSchema.optional(),
  baselines: BaselinesSchema.prefault({}),
  metrics: MetricsSchema.prefault({}),
  assert: z.array(AssertionSchema).default([]),
});

export type Scenario = z.output<typeof ScenarioSchema>;
export type ScenarioEvent = z.output<typeof EventSchema>;
export type LoadSpec = z.output<typeof LoadSchema>;
export type Assertion = z.output<typeof AssertionSchema>;
