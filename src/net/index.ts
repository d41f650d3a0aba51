/**
 * The network adapter: libp2p lives here and nowhere else. The protocol core sees only the
 * `Transport` interface (`src/core/transport.ts`), driven by a `ProtocolRunner`.
 */
export { NetError, NetErrorCode, isNetError } from './errors.ts';
export {
  defaultConnectionOptions,
  defaultGossipOptions,
  defaultMdnsOptions,
  defaultNetOptions,
  defaultPeerScoringOptions,
  defaultRequestLimits,
  resolveNetOptions,
  validateNetOptions,
} from './options.ts';
export type {
  ConnectionOptions,
  GossipOptions,
  MdnsOptions,
  NetOptions,
  NetOptionsInput,
  PeerScoringOptions,
  RequestLimits,
} from './options.ts';
export { createNetMetrics, createProtocolRunnerMetrics, defaultTopicKind } from './metrics.ts';
export type { InboundDropReason, NetMetrics, PublishFailReason, RequestOutcome, TopicKindFn } from './metrics.ts';
export type { NetLogger } from './logger.ts';
export { createLibp2pNode, SHOAL_PROTOCOL_PREFIX } from './libp2p-node.ts';
export type { Libp2pNodeModules, ShoalLibp2p, ShoalServices } from './libp2p-node.ts';
export { contentMessageId } from './gossip-config.ts';
export { Libp2pTransport, parseMultiaddr, parsePeerId } from './libp2p-transport.ts';
export type { CreateLibp2pTransportModules, Libp2pTransportModules } from './libp2p-transport.ts';
export { IDENTITY_FILE_NAME, loadOrCreateIdentity, readIdentityFile } from './identity.ts';
export type { Identity } from './identity.ts';
export {
  SWARM_KEY_BYTES,
  formatSwarmKey,
  generateSwarmKey,
  parseSwarmKey,
  readSwarmKeyFile,
  writeSwarmKeyFile,
} from './swarm-key.ts';
export type { SwarmKeyProblem } from './swarm-key.ts';
export { ProtocolRunner, defaultProtocolRunnerOptions } from './protocol-runner.ts';
export type {
  DecodeFailure,
  ProtocolCodec,
  ProtocolRunnerMetrics,
  ProtocolRunnerModules,
  ProtocolRunnerOptions,
  RunnerDropReason,
  RunnerHandler,
} from './protocol-runner.ts';
export { SystemClock, systemClock } from './system-clock.ts';
export { peerIdInAddr } from './addr.ts';
