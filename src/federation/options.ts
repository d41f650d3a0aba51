import { FederationError } from './errors.ts';

/**
 * Timing and limits of federation. The agent's gateway service and the simulator read the
 * same options; the config file exposes only what an operator needs (`[federation]`).
 */
export interface FederationOptions {
  /** How often a gateway pushes its cluster summary to each remote gateway (and pulls theirs). */
  readonly summaryIntervalMs: number;
  /** A remote summary not refreshed for this long is stale: its cluster is tried only when named. */
  readonly maxSummaryAgeMs: number;
  /** Cell summaries older than this are left out of the own cluster's summary. */
  readonly maxCellAgeMs: number;
  /** Ranking weight of a cluster whose summary says "maybe" (no standard shape proves a fit). */
  readonly weakClusterWeight: number;
  /** Remote clusters one burst asks at most before giving up. */
  readonly maxClustersTried: number;
  /** One request to one remote gateway (a placement there included). */
  readonly remoteRequestTimeoutMs: number;
  /** A whole burst on the entry's gateway: no new remote request starts after it. */
  readonly burstBudgetMs: number;
  /** An entry agent's request to one of its cluster's gateways. */
  readonly entryRequestTimeoutMs: number;
  /** Short requests: binding lookups and copies between a cluster's gateways. */
  readonly shortRequestTimeoutMs: number;
  /** First back-off of a gateway that failed; doubles on each failure. */
  readonly gatewayBackoffMs: number;
  readonly maxGatewayBackoffMs: number;
  /** Remote-job usage is recounted from the cluster's job listing at most this often (only when quotas are set). */
  readonly quotaRefreshMs: number;
  /** Largest federation frame, either channel. */
  readonly maxMessageBytes: number;
}

export const defaultFederationOptions: FederationOptions = {
  summaryIntervalMs: 5_000, // ms; capacity a few seconds old is fresh enough to choose a cluster, and 2 gateways × N clusters requests per 5 s is negligible load
  maxSummaryAgeMs: 30_000, // ms; six missed exchanges: the remote gateways are gone or cut off
  maxCellAgeMs: 600_000, // ms; matches placement's maxSummaryAgeMs: a quiet cell reissues its summary only every gossip heartbeat (300 s in the large profile), and is still right meanwhile
  weakClusterWeight: 0.5, // hosts; a "maybe" cluster ranks below any cluster with one sure fit
  maxClustersTried: 3, // count; each refusal costs a round trip between clusters, and the caller waits
  remoteRequestTimeoutMs: 8_000, // ms; a placement normally answers in well under a second; must stay under burstBudgetMs
  burstBudgetMs: 9_000, // ms; the mesh aborts a request handler after 10 s (net requests.handlerTimeoutMs), so a burst must answer before
  entryRequestTimeoutMs: 10_000, // ms; the gateway's handler is cut at 10 s anyway
  shortRequestTimeoutMs: 2_000, // ms; lookups and binding copies are one map access on the far side
  gatewayBackoffMs: 2_000, // ms; a gateway that just failed is tried last for a while, not skipped forever
  maxGatewayBackoffMs: 60_000, // ms; a gateway down for long is retried at least once a minute
  quotaRefreshMs: 10_000, // ms; a cluster-wide listing is O(hosts) requests: not per placement
  maxMessageBytes: 256 * 1024, // bytes; a cluster summary is a few KB (64 buckets max), a job record under 10 KB
};

export function federationOptions(input: Partial<FederationOptions> = {}): FederationOptions {
  const opts = { ...defaultFederationOptions, ...input };
  for (const [k, v] of Object.entries(opts)) {
    if (typeof v !== 'number' || !Number.isFinite(v) || v <= 0) {
      throw new FederationError('FEDERATION_INVALID_OPTIONS', `federation option ${k} must be a positive number, got ${String(v)}`, { option: k, value: v });
    }
  }
  if (opts.remoteRequestTimeoutMs > opts.burstBudgetMs) {
    throw new FederationError('FEDERATION_INVALID_OPTIONS', `remoteRequestTimeoutMs (${opts.remoteRequestTimeoutMs}) must not exceed burstBudgetMs (${opts.burstBudgetMs})`, {
      option: 'remoteRequestTimeoutMs',
    });
  }
  if (opts.gatewayBackoffMs > opts.maxGatewayBackoffMs) {
    throw new FederationError('FEDERATION_INVALID_OPTIONS', 'gatewayBackoffMs must not exceed maxGatewayBackoffMs', { option: 'gatewayBackoffMs' });
  }
  return opts;
}
