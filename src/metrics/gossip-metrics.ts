import { Counter, Gauge, type Registry } from 'prom-client';
import type { GossipMetrics } from '../gossip/metrics.ts';

/**
 * prom-client implementation of the gossip core's metrics interface; labels are bounded kinds
 * and codes. `oldestRecordAgeMs` is read at scrape time: a walk over the cell's members is
 * worth doing when someone asks, not at every maintenance tick.
 */
export function createGossipMetrics(registry: Registry, oldestRecordAgeMs: () => number | undefined): GossipMetrics {
  const received = new Counter({ name: 'shoal_gossip_messages_received_total', help: 'Gossip messages received, by traffic kind', labelNames: ['kind'], registers: [registry] });
  const receivedBytes = new Counter({ name: 'shoal_gossip_received_bytes_total', help: 'Gossip bytes received, by traffic kind', labelNames: ['kind'], registers: [registry] });
  const sent = new Counter({ name: 'shoal_gossip_messages_sent_total', help: 'Gossip messages sent, by traffic kind', labelNames: ['kind'], registers: [registry] });
  const sentBytes = new Counter({ name: 'shoal_gossip_sent_bytes_total', help: 'Gossip bytes sent, by traffic kind', labelNames: ['kind'], registers: [registry] });
  const refused = new Counter({ name: 'shoal_gossip_refused_total', help: 'Gossip messages refused, by reason and action (reject penalises the sender)', labelNames: ['reason', 'action'], registers: [registry] });
  const transitions = new Counter({ name: 'shoal_gossip_member_transitions_total', help: 'Member status changes in this view (suspect = suspicion, suspect→alive = refutation)', labelNames: ['status', 'previous'], registers: [registry] });
  const selfRefutations = new Counter({ name: 'shoal_gossip_self_refutations_total', help: 'Suspicions about this node that it refuted', registers: [registry] });
  const queueDepth = new Gauge({ name: 'shoal_gossip_queue_depth', help: 'Depth of bounded gossip queues', labelNames: ['queue'], registers: [registry] });
  new Gauge({
    name: 'shoal_gossip_oldest_record_age_seconds',
    help: 'Age of the least recently refreshed alive member record',
    registers: [registry],
    collect() {
      const ms = oldestRecordAgeMs();
      if (ms !== undefined) this.set(ms / 1000);
    },
  });
  const cellBits = new Gauge({ name: 'shoal_gossip_cell_bits', help: 'Current cell layout (cells = 2^bits)', registers: [registry] });
  return {
    messageReceived: (kind, bytes) => {
      received.inc({ kind });
      receivedBytes.inc({ kind }, bytes);
    },
    messageSent: (kind, bytes) => {
      sent.inc({ kind });
      sentBytes.inc({ kind }, bytes);
    },
    refused: (reason, action) => refused.inc({ reason, action }),
    memberStatus: (status, previous) => transitions.inc({ status, previous: previous ?? 'none' }),
    selfRefuted: () => selfRefutations.inc(),
    queueDepth: (queue, depth) => queueDepth.set({ queue }, depth),
    cellBits: (bits) => cellBits.set(bits),
  };
}

/** The local-health sampler's figures: the lag it saw and the awareness points it reported. */
export function createLocalHealthMetrics(registry: Registry): { lagSeconds: Gauge; score: Gauge } {
  return {
    lagSeconds: new Gauge({ name: 'shoal_gossip_event_loop_lag_p99_seconds', help: 'p99 event-loop lag over the last local-health window (what stretches probe timeouts)', registers: [registry] }),
    score: new Gauge({ name: 'shoal_gossip_local_health_score', help: 'Awareness points reported for event-loop lag (0 = healthy; probe interval and timeouts × 1 + score)', registers: [registry] }),
  };
}
