import { pack } from 'msgpackr';
import type { Encoded, Millis, Outbox, PeerIdStr, ProtocolNode, Rng, Verdict } from '../../src/core/index.ts';
import type { HostRecord } from '../../src/gossip/records.ts';

/** The one topic of the naive baseline. */
export const FLAT_TOPIC = 'shoal/sim/flat/records';

export interface FlatGossipOptions {
  /** Every host republishes its full record this often (± 25% jitter). */
  intervalMs: number;
  /** Keep a table of everyone's latest record version (only affordable at small N; the traffic is the point). */
  keepState: boolean;
}

export const defaultFlatGossipOptions: FlatGossipOptions = {
  intervalMs: 5000, // ms; a lenient period: S3's servers gossiped every second or so
  keepState: true,
};

/**
 * The baseline Shoal exists to beat: every host publishes its full record on one cluster-wide
 * topic and everyone applies everyone's (the flat state gossip of S3 in 2008, minus its
 * missing checksums). Per-host received traffic grows linearly with the cluster size: N
 * hosts × 1/interval × gossipsub's duplicate factor. It runs on the same gossipsub model
 * and network as Shoal, with records encoded by msgpackr, the same wire encoding.
 */
export class FlatGossipNode implements ProtocolNode {
  readonly self: PeerIdStr;
  /** Latest seq seen per origin, when keepState. */
  readonly known = new Map<PeerIdStr, number>();
  private readonly opts: FlatGossipOptions;
  private readonly rng: Rng;
  private readonly outbox: Outbox;
  private record: HostRecord;
  private nextPublishMs = Infinity;

  constructor(opts: FlatGossipOptions, modules: { rng: Rng; outbox: Outbox; record: HostRecord }) {
    this.opts = opts;
    this.rng = modules.rng;
    this.outbox = modules.outbox;
    this.record = modules.record;
    this.self = modules.record.origin;
  }

  start(now: Millis): void {
    this.outbox.subscribe(FLAT_TOPIC);
    this.nextPublishMs = now + this.rng.next() * this.opts.intervalMs;
  }

  stop(_now: Millis): void {
    this.nextPublishMs = Infinity;
    this.outbox.unsubscribe(FLAT_TOPIC);
  }

  onTopicMessage(_topic: string, _from: PeerIdStr, origin: PeerIdStr, payload: Encoded, _now: Millis): Verdict {
    const rec = payload.msg as HostRecord;
    if (rec.origin !== origin) return 'reject';
    if (this.opts.keepState) {
      const seen = this.known.get(origin);
      if (seen !== undefined && seen >= rec.seq) return 'ignore';
      this.known.set(origin, rec.seq);
    }
    return 'accept';
  }

  onDirect(): void {}

  onTimer(now: Millis): void {
    if (now < this.nextPublishMs) return;
    this.record = { ...this.record, seq: this.record.seq + 1 };
    this.outbox.publish(FLAT_TOPIC, { msg: this.record, bytes: pack(this.record) });
    this.nextPublishMs = now + this.opts.intervalMs * (0.75 + 0.5 * this.rng.next());
  }

  nextTimerAtMs(): Millis {
    return this.nextPublishMs;
  }
}
