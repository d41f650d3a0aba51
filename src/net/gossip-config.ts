import { createHash } from 'node:crypto';
import type { GossipsubOpts, Message } from '@libp2p/gossipsub';
import type { RPC } from '@libp2p/gossipsub/message';
import { createTopicScoreParams, type PeerScoreParams, type TopicScoreParams } from '@libp2p/gossipsub/score';
import type { GossipOptions, PeerScoringOptions } from './options.ts';

/**
 * Gossipsub settings derived from NetOptions: message ids, limits and peer scoring.
 *
 * What gossipsub 17 does with a validator verdict (read in gossipsub.js / peer-score.js):
 * - `reject`: not delivered, not forwarded; P4 (invalid deliveries) += 1 for the
 *   propagation source and every peer that sent a duplicate while it was validated — but
 *   ONLY for topics present in `scoreParams.topics`. Hence `topicScoreParams` is installed
 *   per topic when we subscribe.
 * - `ignore`: not delivered, not forwarded, no penalty.
 * - Effects of a negative score: pruned from the mesh at the next heartbeat; below
 *   gossipThreshold no IHAVE/IWANT; below publishThreshold not published to; below
 *   graylistThreshold every RPC from the peer is dropped unread.
 */

/** Score counters decay once per this interval (gossipsub default). */
export const SCORE_DECAY_INTERVAL_MS = 1000;

/**
 * Message id = sha256(signer ‖ topic ‖ data), first 20 bytes. Content-addressed, so a node
 * re-publishing identical bytes is deduplicated (gossipsub's default id, from+seqno, never
 * is). The signer is included so a peer that re-signs someone else's bytes cannot make the
 * genuine copy look like a duplicate of its forgery.
 */
export function contentMessageId(signer: Uint8Array, topic: string, data: Uint8Array): Uint8Array {
  const h = createHash('sha256');
  h.update(signer);
  h.update('\0');
  h.update(topic);
  h.update('\0');
  h.update(data);
  return h.digest().subarray(0, 20);
}

const EMPTY = new Uint8Array(0);

function msgIdFn(msg: Message): Uint8Array {
  const signer = msg.type === 'signed' ? msg.from.toMultihash().bytes : EMPTY;
  return contentMessageId(signer, msg.topic, msg.data);
}

/** Same id from the raw RPC, so duplicates skip signature verification (~1 ms each). */
function fastMsgIdFn(msg: RPC.Message): string {
  return Buffer.from(contentMessageId(msg.from ?? EMPTY, msg.topic, msg.data ?? EMPTY)).toString('base64');
}

function msgIdToStrFn(id: Uint8Array): string {
  return Buffer.from(id.buffer, id.byteOffset, id.byteLength).toString('base64');
}

/** Per-topic score parameters, installed for every topic we subscribe to. */
export function topicScoreParams(s: PeerScoringOptions): TopicScoreParams {
  const timeInMeshWeight = s.timeInMeshScorePerSec;
  return createTopicScoreParams({
    topicWeight: 1,
    // P1: slow credit for staying in the mesh, capped below one invalid message's penalty.
    timeInMeshWeight,
    timeInMeshQuantum: 1000,
    timeInMeshCap: timeInMeshWeight > 0 ? s.timeInMeshCapScore / timeInMeshWeight : 1,
    // P2, P3, P3b off: Shoal topics are quiet by design (change-driven plus slow heartbeats), so
    // delivery-rate rewards and penalties would misjudge honest peers.
    firstMessageDeliveriesWeight: 0,
    meshMessageDeliveriesWeight: 0,
    meshFailurePenaltyWeight: 0,
    // P4: the one that matters — validators' rejects.
    invalidMessageDeliveriesWeight: s.invalidMessageWeight,
    invalidMessageDeliveriesDecay: Math.pow(0.5, SCORE_DECAY_INTERVAL_MS / s.invalidMessageHalfLifeMs),
  });
}

export function peerScoreParams(s: PeerScoringOptions): Partial<PeerScoreParams> {
  return {
    topics: {},
    topicScoreCap: s.timeInMeshCapScore,
    IPColocationFactorWeight: s.ipColocationWeight,
    decayInterval: SCORE_DECAY_INTERVAL_MS,
  };
}

export function gossipsubInit(g: GossipOptions, s: PeerScoringOptions): Partial<GossipsubOpts> {
  return {
    globalSignaturePolicy: 'StrictSign',
    D: g.D,
    Dlo: g.Dlo,
    Dhi: g.Dhi,
    Dlazy: g.Dlazy,
    heartbeatInterval: g.heartbeatIntervalMs,
    seenTTL: g.seenTtlMs,
    fanoutTTL: g.fanoutTtlMs,
    floodPublish: g.floodPublish,
    maxInboundDataLength: g.maxRpcBytes,
    msgIdFn,
    fastMsgIdFn,
    msgIdToStrFn,
    scoreParams: peerScoreParams(s),
    scoreThresholds: {
      gossipThreshold: s.gossipThreshold,
      publishThreshold: s.publishThreshold,
      graylistThreshold: s.graylistThreshold,
    },
    // Floodsub has no signatures policy we control and no scoring: members speak gossipsub only.
    fallbackToFloodsub: false,
    // Private network: peer exchange would hand out addresses nobody asked for.
    doPX: false,
    emitSelf: false,
    // Publish failures are counted by the adapter instead of thrown into the protocol core.
    allowPublishToZeroTopicPeers: false,
    ignoreDuplicatePublishError: false,
  };
}
