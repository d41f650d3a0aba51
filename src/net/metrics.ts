import { Counter, Gauge, type Registry } from 'prom-client';
import { topicKind as shoalTopicKind } from '../gossip/topics.ts';
import type { ProtocolRunnerMetrics } from './protocol-runner.ts';

/**
 * What the adapter counts. Labels stay bounded: a topic *kind* (from a `TopicKindFn`), a
 * fixed reason, a registered protocol id or an error code. Never a peer id or full topic.
 */

/** Why an inbound topic message was not accepted. */
export type InboundDropReason =
  | 'reject' // the topic handler said reject (sender penalised)
  | 'ignore' // the topic handler said ignore
  | 'too_large' // payload above gossip.maxMessageBytes (rejected before the handler)
  | 'not_subscribed' // arrived after we unsubscribed
  | 'no_handler' // no topic handler set yet
  | 'handler_error' // the handler threw; treated as ignore
  | 'unsigned'; // not StrictSign-signed (gossipsub should have rejected it already)

/** Why a publish did not go out. */
export type PublishFailReason = 'no_peers' | 'duplicate' | 'too_large' | 'not_started' | 'error';

/** Outcome label for requests: `ok`, or a NET_ error code. */
export type RequestOutcome = 'ok' | string;

/** What went over a request channel: a request (an answer comes back) or a one-way message (none does). */
export type Exchange = 'request' | 'message';

export interface NetMetrics {
  messageIn(kind: string, bytes: number): void;
  messageOut(kind: string, bytes: number): void;
  inboundDropped(kind: string, reason: InboundDropReason): void;
  publishFailed(kind: string, reason: PublishFailReason): void;
  requestSent(protocol: string, exchange: Exchange, outcome: RequestOutcome, bytesOut: number, bytesIn: number): void;
  requestServed(protocol: string, exchange: Exchange, outcome: RequestOutcome, bytesIn: number, bytesOut: number): void;
  peerCount(n: number): void;
}

/** Maps a topic to a small fixed set of kinds, for metric labels. */
export type TopicKindFn = (topic: string) => string;

const KNOWN_KINDS = ['cell', 'district', 'global'] as const;

/**
 * The kind of a Shoal topic (`shoal/1/<cluster>/b<bits>/c<n>` → cell, `…/d<n>` → district,
 * `…/global` → global, as `src/gossip/topics.ts` names them); for other topics, a path
 * segment that is exactly `cell`/`district`/`global`; else `other`.
 */
export const defaultTopicKind: TopicKindFn = (topic) => {
  const shoal = shoalTopicKind(topic);
  if (shoal !== 'other') return shoal;
  for (const kind of KNOWN_KINDS) {
    const i = topic.indexOf(kind);
    if (i > 0 && topic[i - 1] === '/' && (i + kind.length === topic.length || topic[i + kind.length] === '/')) return kind;
  }
  return 'other';
};

/** Prometheus implementation of NetMetrics, registered on `registry`. */
export function createNetMetrics(registry: Registry): NetMetrics {
  const r = [registry];
  const msgsIn = new Counter({ name: 'shoal_net_messages_in_total', help: 'Gossip messages received (first copy, before validation), by topic kind', labelNames: ['kind'], registers: r });
  const bytesIn = new Counter({ name: 'shoal_net_message_in_bytes_total', help: 'Gossip payload bytes received, by topic kind', labelNames: ['kind'], registers: r });
  const msgsOut = new Counter({ name: 'shoal_net_messages_out_total', help: 'Gossip messages published by this node, by topic kind', labelNames: ['kind'], registers: r });
  const bytesOut = new Counter({ name: 'shoal_net_message_out_bytes_total', help: 'Gossip payload bytes published by this node, by topic kind', labelNames: ['kind'], registers: r });
  const dropped = new Counter({ name: 'shoal_net_messages_dropped_total', help: 'Inbound gossip messages not accepted, by topic kind and reason', labelNames: ['kind', 'reason'], registers: r });
  const pubFail = new Counter({ name: 'shoal_net_publish_failures_total', help: 'Publishes that did not go out, by topic kind and reason', labelNames: ['kind', 'reason'], registers: r });
  const reqSent = new Counter({ name: 'shoal_net_requests_sent_total', help: 'Outbound requests and one-way messages (exchange), by protocol and outcome', labelNames: ['protocol', 'exchange', 'outcome'], registers: r });
  const reqServed = new Counter({ name: 'shoal_net_requests_served_total', help: 'Inbound requests and one-way messages (exchange), by protocol and outcome', labelNames: ['protocol', 'exchange', 'outcome'], registers: r });
  const reqBytes = new Counter({ name: 'shoal_net_request_bytes_total', help: 'Request/response frame bytes by direction', labelNames: ['direction'], registers: r });
  const peers = new Gauge({ name: 'shoal_net_peers', help: 'Connected peers', registers: r });
  return {
    messageIn(kind, bytes) {
      msgsIn.inc({ kind });
      bytesIn.inc({ kind }, bytes);
    },
    messageOut(kind, bytes) {
      msgsOut.inc({ kind });
      bytesOut.inc({ kind }, bytes);
    },
    inboundDropped(kind, reason) {
      dropped.inc({ kind, reason });
    },
    publishFailed(kind, reason) {
      pubFail.inc({ kind, reason });
    },
    requestSent(protocol, exchange, outcome, out, inb) {
      reqSent.inc({ protocol, exchange, outcome });
      reqBytes.inc({ direction: 'out' }, out);
      reqBytes.inc({ direction: 'in' }, inb);
    },
    requestServed(protocol, exchange, outcome, inb, out) {
      reqServed.inc({ protocol, exchange, outcome });
      reqBytes.inc({ direction: 'in' }, inb);
      reqBytes.inc({ direction: 'out' }, out);
    },
    peerCount(n) {
      peers.set(n);
    },
  };
}

/** Prometheus implementation of the ProtocolRunner's metrics. `code` labels come from the codec's fixed set. */
export function createProtocolRunnerMetrics(registry: Registry): ProtocolRunnerMetrics {
  const r = [registry];
  const decode = new Counter({ name: 'shoal_net_decode_failures_total', help: 'Messages the codec refused, by topic kind (or "direct"), action and code', labelNames: ['kind', 'action', 'code'], registers: r });
  const threw = new Counter({ name: 'shoal_net_protocol_errors_total', help: 'Protocol node failures (bugs), by handler', labelNames: ['handler'], registers: r });
  const sendDropped = new Counter({ name: 'shoal_net_direct_sends_dropped_total', help: 'Direct sends dropped before sending, by reason', labelNames: ['reason'], registers: r });
  const sendFailed = new Counter({ name: 'shoal_net_direct_sends_failed_total', help: 'Direct sends that failed, by error code', labelNames: ['code'], registers: r });
  const dialDropped = new Counter({ name: 'shoal_net_dials_dropped_total', help: 'Connect requests dropped before dialling, by reason', labelNames: ['reason'], registers: r });
  const dialFailed = new Counter({ name: 'shoal_net_dials_failed_total', help: 'Dials for the protocol node that failed, by error code', labelNames: ['code'], registers: r });
  const inFlight = new Gauge({ name: 'shoal_net_direct_sends_in_flight', help: 'Direct sends awaiting an answer (bounded by maxInFlightSends)', registers: r });
  const queued = new Gauge({ name: 'shoal_net_dial_queue_depth', help: 'Dials waiting to run (bounded by maxQueuedDials)', registers: r });
  return {
    decodeFailed: (kind, action, code) => decode.inc({ kind, action, code }),
    handlerThrew: (handler) => threw.inc({ handler }),
    sendDropped: (reason) => sendDropped.inc({ reason }),
    sendFailed: (code) => sendFailed.inc({ code }),
    dialDropped: (reason) => dialDropped.inc({ reason }),
    dialFailed: (code) => dialFailed.inc({ code }),
    inFlightSends: (n) => inFlight.set(n),
    queuedDials: (n) => queued.set(n),
  };
}
