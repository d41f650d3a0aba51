import type { Millis } from '../core/clock.ts';
import type { PeerIdStr } from '../core/transport.ts';
import type { ClusterSummary } from './cluster-summary.ts';
import type { RemoteClusterState } from './cluster-ranking.ts';

/**
 * A gateway's knowledge of the other clusters: the allowlist (which identities speak for
 * which cluster) and the newest summary each remote gateway sent. A summary is believed only
 * from a gateway allowlisted for the cluster it describes, so one cluster cannot speak for
 * another. Remote clocks are never compared with ours: per gateway the newest `issuedAtMs`
 * wins (reordering, replays), and across a cluster's gateways the latest received wins.
 */
export type SummaryVerdict = 'new' | 'stale' | 'unlisted' | 'wrong-cluster';

interface Received {
  readonly state: RemoteClusterState;
}

export class RemoteDirectory {
  readonly self: string;
  /** Federated clusters in config order, this one excluded. */
  readonly clusters: readonly string[];
  readonly #clusterOf = new Map<PeerIdStr, string>();
  readonly #gateways = new Map<string, readonly PeerIdStr[]>();
  readonly #byGateway = new Map<PeerIdStr, Received>();
  readonly #latest = new Map<string, RemoteClusterState>();

  constructor(self: string, allowlist: Readonly<Record<string, readonly PeerIdStr[]>>) {
    this.self = self;
    const clusters: string[] = [];
    for (const [cluster, peers] of Object.entries(allowlist)) {
      if (cluster === self) continue;
      clusters.push(cluster);
      this.#gateways.set(cluster, peers);
      for (const p of peers) this.#clusterOf.set(p, cluster);
    }
    this.clusters = clusters;
  }

  /** The cluster an identity speaks for, or undefined when it is in no allowlist. */
  clusterOf(peer: PeerIdStr): string | undefined {
    return this.#clusterOf.get(peer);
  }

  gatewaysOf(cluster: string): readonly PeerIdStr[] {
    return this.#gateways.get(cluster) ?? [];
  }

  /** Every remote gateway identity, cluster by cluster. */
  allGateways(): PeerIdStr[] {
    return [...this.#clusterOf.keys()];
  }

  onSummary(from: PeerIdStr, summary: ClusterSummary, acceptsUs: boolean, now: Millis): SummaryVerdict {
    const cluster = this.#clusterOf.get(from);
    if (cluster === undefined) return 'unlisted';
    if (summary.cluster !== cluster) return 'wrong-cluster';
    const previous = this.#byGateway.get(from);
    if (previous !== undefined && previous.state.summary.issuedAtMs >= summary.issuedAtMs) return 'stale';
    const state: RemoteClusterState = { summary, receivedAtMs: now, acceptsUs };
    this.#byGateway.set(from, { state });
    this.#latest.set(cluster, state);
    return 'new';
  }

  /** The newest state of every cluster that sent a summary. */
  states(): ReadonlyMap<string, RemoteClusterState> {
    return this.#latest;
  }
}
