import { hashPrefix, type Encoded, type Millis, type Outbox, type PeerIdStr, type ProtocolNode, type Rng, type Verdict } from '../../src/core/index.ts';

/**
 * A trivial ProtocolNode for testing the simulator apart from the real gossip core: it
 * subscribes to its cell topic, publishes a small record on a jittered heartbeat, and
 * pings a random peer it has heard of. Messages whose `bad` flag is set are rejected.
 */
export interface StandInMsg {
  readonly type: 'record' | 'ping' | 'ack';
  readonly origin: PeerIdStr;
  readonly seq: number;
  readonly bad?: boolean;
}

export interface StandInOptions {
  cellBits: number;
  heartbeatMs: number;
  probeMs: number;
  recordBytes: number;
}

export const defaultStandInOptions: StandInOptions = { cellBits: 0, heartbeatMs: 5000, probeMs: 1000, recordBytes: 200 };

export function encodeStandIn(msg: StandInMsg, size: number): Encoded<StandInMsg> {
  const bytes = new Uint8Array(size);
  const text = new TextEncoder().encode(`${msg.type}|${msg.origin}|${msg.seq}|${msg.bad ? 1 : 0}`);
  bytes.set(text.subarray(0, size));
  return { msg, bytes };
}

export class StandInNode implements ProtocolNode {
  readonly self: PeerIdStr;
  readonly topic: string;
  readonly seen = new Map<PeerIdStr, number>();
  readonly peers: PeerIdStr[] = [];
  rejected = 0;
  acks = 0;
  private readonly opts: StandInOptions;
  private readonly rng: Rng;
  private readonly outbox: Outbox;
  private seq = 0;
  private nextHeartbeatMs = Infinity;
  private nextProbeMs = Infinity;

  constructor(opts: StandInOptions, modules: { self: PeerIdStr; rng: Rng; outbox: Outbox; seeds?: readonly PeerIdStr[] }) {
    this.opts = opts;
    this.self = modules.self;
    this.rng = modules.rng;
    this.outbox = modules.outbox;
    this.topic = `stub/cell/${hashPrefix(this.self, opts.cellBits)}`;
    for (const s of modules.seeds ?? []) this.peers.push(s);
  }

  start(now: Millis): void {
    this.outbox.subscribe(this.topic);
    this.nextHeartbeatMs = now + this.rng.next() * this.opts.heartbeatMs;
    this.nextProbeMs = now + this.rng.next() * this.opts.probeMs;
  }

  stop(_now: Millis): void {
    this.nextHeartbeatMs = Infinity;
    this.nextProbeMs = Infinity;
  }

  onTopicMessage(_topic: string, _from: PeerIdStr, origin: PeerIdStr, payload: Encoded, _now: Millis): Verdict {
    const msg = payload.msg as StandInMsg;
    if (msg.bad === true || msg.origin !== origin) {
      this.rejected++;
      return 'reject';
    }
    if (!this.seen.has(msg.origin)) this.peers.push(msg.origin);
    this.seen.set(msg.origin, msg.seq);
    return 'accept';
  }

  onDirect(from: PeerIdStr, payload: Encoded, _now: Millis): void {
    const msg = payload.msg as StandInMsg;
    if (msg.type === 'ping') this.outbox.send(from, encodeStandIn({ type: 'ack', origin: this.self, seq: msg.seq }, 40));
    else if (msg.type === 'ack') this.acks++;
  }

  onTimer(now: Millis): void {
    if (now >= this.nextHeartbeatMs) {
      this.outbox.publish(this.topic, encodeStandIn({ type: 'record', origin: this.self, seq: ++this.seq }, this.opts.recordBytes));
      this.nextHeartbeatMs = now + this.opts.heartbeatMs * (0.75 + 0.5 * this.rng.next());
    }
    if (now >= this.nextProbeMs) {
      if (this.peers.length > 0) this.outbox.send(this.peers[this.rng.int(this.peers.length)]!, encodeStandIn({ type: 'ping', origin: this.self, seq: this.seq }, 40));
      this.nextProbeMs = now + this.opts.probeMs;
    }
  }

  nextTimerAtMs(): Millis {
    return Math.min(this.nextHeartbeatMs, this.nextProbeMs);
  }

  /** Publishes a message flagged bad (validators reject it). */
  publishBad(): void {
    this.outbox.publish(this.topic, encodeStandIn({ type: 'record', origin: this.self, seq: ++this.seq, bad: true }, this.opts.recordBytes));
  }
}
