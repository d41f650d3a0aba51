import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import type { Clock } from '../../core/clock.ts';
import type { Config } from '../../config/schema.ts';
import { defaultFederationOptions, type FederationPolicy } from '../../federation/index.ts';
import type { ClusterView } from '../../gossip/index.ts';
import type { Identity } from '../../net/index.ts';
import type { Libp2pTransport } from '../../net/index.ts';
import { FederationStore } from '../../store/federation-store.ts';
import type { Store } from '../../store/store.ts';
import type { ClusterJobs } from '../cluster-jobs.ts';
import { FederatedJobs } from './federated-jobs.ts';
import { GatewayService } from './gateway-service.ts';
import { parseGatewayAddrs } from './gateway-addresses.ts';
import { createFederationMetrics } from './metrics.ts';

/** How the agent builds its federation parts from `[federation]`; `start` of the gateway is the agent's to call. */
export interface FederationParts {
  /** Every agent's bursting client (inert when no gateways are configured). */
  readonly entry: FederatedJobs;
  /** This agent's gateway, when `[federation] gateway = true`. */
  readonly gateway: GatewayService | null;
}

export interface FederationDeps {
  identity: Identity;
  clock: Clock;
  logger: Logger;
  registry: Registry;
  mesh: { transport: Libp2pTransport; node: ClusterView };
  store: Store;
  /** The cluster's jobs without federation (resolved lazily: it is built with the entry client). */
  clusterJobs: () => ClusterJobs;
}

/** A gateway's federation handler may run a whole placement in this cluster before answering. */
const FEDERATION_HANDLER_TIMEOUT_MS = 30_000;
/** Remote gateways are other sites: allow a slow WAN dial, but not forever. */
const FEDERATION_DIAL_TIMEOUT_MS = 5_000;

export function createFederation(config: Config, deps: FederationDeps): FederationParts {
  const fed = config.federation;
  const region = fed.region ?? config.host.region;
  const metrics = fed.gateway || fed.gateways.length > 0 ? createFederationMetrics(deps.registry) : null;
  const logger = deps.logger.child({ component: 'federation' });
  const gateways = parseGatewayAddrs(fed.gateways);
  const gateway = fed.gateway
    ? new GatewayService(
        {
          cluster: config.cluster,
          region,
          federation: defaultFederationOptions,
          policy: fed.policy satisfies FederationPolicy,
          allowlist: Object.fromEntries(Object.entries(fed.clusters).map(([name, c]) => [name, c.gateways])),
          channel: {
            listen: fed.listen,
            announce: fed.announce,
            networkKey: fed.networkKey ?? null,
            peers: fed.peers,
            handlerTimeoutMs: FEDERATION_HANDLER_TIMEOUT_MS,
            dialTimeoutMs: FEDERATION_DIAL_TIMEOUT_MS,
          },
          siblings: gateways,
        },
        {
          identity: deps.identity,
          clock: deps.clock,
          logger,
          view: deps.mesh.node,
          mesh: deps.mesh.transport,
          store: new FederationStore(deps.store),
          local: {
            place: (spec) => deps.clusterJobs().placeInCluster(spec),
            get: (id) => deps.clusterJobs().getInCluster(id),
            stop: (id) => deps.clusterJobs().stopInCluster(id),
            list: () => deps.clusterJobs().list({ cluster: true }),
          },
          metrics,
        },
      )
    : null;
  const entry = new FederatedJobs(
    { cluster: config.cluster, region, burst: fed.burst, gateways, federation: defaultFederationOptions },
    { self: deps.identity.peerId, mesh: deps.mesh.transport, clock: deps.clock, logger, gateway, metrics },
  );
  return { entry, gateway };
}
