import { Counter, type Registry } from 'prom-client';
import type { FederationMetrics } from '../../federation/index.ts';

/** prom-client counters for federation; they satisfy its CounterLike interfaces directly. */
export function createFederationMetrics(registry: Registry): FederationMetrics {
  const counter = <L extends string>(name: string, help: string, labelNames: L[]): Counter<L> => new Counter({ name, help, labelNames, registers: [registry] });
  return {
    bursts: counter('shoal_federation_bursts_total', 'Bursts handled by this gateway, by outcome (placed, duplicate or an error code)', ['outcome']),
    remoteServed: counter('shoal_federation_remote_served_total', 'Requests served to remote gateways, by op and outcome', ['op', 'outcome']),
    remoteSent: counter('shoal_federation_remote_sent_total', 'Requests sent to remote gateways, by op and outcome', ['op', 'outcome']),
    refusedPeers: counter('shoal_federation_refused_peers_total', 'Connections and requests refused from identities outside the allowlist, by stage', ['stage']),
    failovers: counter('shoal_federation_failovers_total', 'Gateways that failed a request so the next one was tried, by side (entry, remote, sibling)', ['side']),
  };
}
