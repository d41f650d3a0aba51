/**
 * Federation: independent clusters lend capacity to each other through gateways, each
 * cluster governing what it accepts. Pure, synchronous and deterministic (no I/O, no clock,
 * no randomness): the agent's gateway service and the simulator use the same decisions. See
 * README.md in this folder.
 */
export { FEDERATION_ERRORS, FederationError, isFederationCode, type FederationErrorCode } from './errors.ts';
export { defaultFederationOptions, federationOptions, type FederationOptions } from './options.ts';
export { CLUSTER_NAME_PATTERN, globalAddress, isRemote, parseGlobalAddress, type GlobalAddress } from './global-address.ts';
export { MAX_CLUSTER_BUCKETS, clusterFree, summarizeCluster, type ClusterSummary, type SummarizeClusterInput } from './cluster-summary.ts';
export {
  CLOSED_POLICY,
  WILDCARD,
  acceptsCluster,
  decideAdmission,
  hasQuota,
  type AdmissionQuestion,
  type ClusterRule,
  type FederationPolicy,
  type PolicyDecision,
  type PolicyRefusal,
  type TenantQuota,
  type Usage,
} from './policy.ts';
export { QuotaLedger, keyToken, type RemoteJob } from './quota-ledger.ts';
export {
  rankClusters,
  rendezvousScore,
  summaryFit,
  type ClusterCandidate,
  type ClusterRanking,
  type ClusterRefusal,
  type RankingContext,
  type RemoteClusterState,
} from './cluster-ranking.ts';
export { RemoteDirectory, type SummaryVerdict } from './remote-directory.ts';
export { GatewayFailover, type GatewayFailoverOptions } from './gateway-failover.ts';
export { BurstAttempt, type BurstContext, type BurstVerdict } from './burst-attempt.ts';
export { clusterAfterCopies, settleSiblingBinding, siblingUnbindAnswer } from './binding-race.ts';
export { burstFailure, burstRoute, isDefinitiveRefusal, type BurstFailure, type BurstRoute, type LocalIdentity } from './burst-route.ts';
export { ORIGIN_LABEL, originOf, tagOrigin } from './origin-label.ts';
export {
  ClusterBucketSchema,
  ClusterSummarySchema,
  EntryRequestSchema,
  FEDERATION_WIRE_VERSION,
  RemoteJobRecordSchema,
  RemoteRequestSchema,
  ReplySchema,
  decodeFederationMessage,
  decodeReply,
  encodeFederationMessage,
  type EntryRequest,
  type ErrorReply,
  type OkReply,
  type RemoteRequest,
  type Reply,
} from './messages.ts';
export { emptyFederationStats, outcomeLabel, type FederationMetrics, type FederationStats } from './metrics.ts';
