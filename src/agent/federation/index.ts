/**
 * The agent's federation adapters: the gateway service with its federation channel (a second
 * libp2p node), and the entry agent's bursting client. The decisions they act on are pure
 * code in `src/federation`.
 */
export { FederatedJobs, type FederatedJobsModules, type FederatedJobsOptions } from './federated-jobs.ts';
export { GatewayService, globalJob, type GatewayServiceModules, type GatewayServiceOptions, type LocalCluster } from './gateway-service.ts';
export { FEDERATION_PROTOCOL, FederationChannel, errorReply, type FederationChannelOptions, type RemoteHandler } from './federation-channel.ts';
export { FEDERATION_ENTRY_PROTOCOL, parseGatewayAddrs, type GatewayAddress } from './gateway-addresses.ts';
export { createFederationMetrics } from './metrics.ts';
