/**
 * The gossip protocol core: membership, dissemination, failure detection and storm
 * control, sans I/O. See README.md.
 */
export { GossipNode, type GossipModules } from './gossip-node.ts';
export type { SeedPeer } from './anti-entropy.ts';
export type { ClusterView } from './view.ts';
export type { MemberEvent, MemberListener } from './membership.ts';
export {
  defaultGossipOptions,
  resolveGossipOptions,
  validateGossipOptions,
  GOSSIP_PROFILES,
  type GossipOptions,
  type GossipProfile,
  type TopicBudget,
} from './options.ts';
export {
  decodeTopicMessage,
  decodeDirect,
  encodeRecord,
  encodeEvents,
  encodeSummary,
  encodeDigest,
  encodePing,
  encodeAck,
  encodeNack,
  encodePingReq,
  encodeAccuse,
  encodeSyncReq,
  encodeSyncResp,
  summaryContentHash,
  MESSAGE_LIMITS,
  MAX_TOPIC_MESSAGE_BYTES,
  MAX_DIRECT_MESSAGE_BYTES,
  WIRE_VERSION,
} from './codec.ts';
export type * from './messages.ts';
export {
  GossipValidationError,
  GOSSIP_REASONS,
  verdictOf,
  type GossipReason,
  type GossipAction,
  type RefusalSink,
} from './errors.ts';
export { cellTopic, districtTopic, globalTopic, parseTopic, topicKind, districtOf, districtBitsOf, type TopicKind, type ParsedTopic } from './topics.ts';
export type { GossipMetrics, GossipCounters, TrafficKind, TrafficCounters } from './metrics.ts';
export { TRAFFIC_KINDS } from './metrics.ts';
export type { SelfPatch } from './self-record.ts';
export { summarizeCell } from './summary.ts';
export * from './records.ts';
