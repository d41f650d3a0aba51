import { hashPrefix, type Encoded, type Millis, type Outbox, type PeerIdStr, type ProtocolNode, type Rng, type Verdict } from '../../src/core/index.ts';

/**
 * A synthetic host for benchmarking the simulator itself, NOT a protocol: it generates the
 * traffic profile Shoal's gossip has at 100k hosts (cells of ~48 on their own topic, a record
 * per host per minute, two probe round trips per second to cell mates, 0.5 large messages per
 * second cluster-wide on a global topic) with handlers that do almost nothing, so a run
 * measures the engine, the network and the gossipsub model alone.
 */
export interface SyntheticOptions {
  cellBits: number;
  recordIntervalMs: number;
  recordBytes: number;
  probesPerSecond: number;
  /** Large messages per second, cluster-wide, on the global topic. */
  globalPerSecond: number;
  globalBytes: number;
  /** Hosts in the cluster (to spread the global rate over them). */
  clusterSize: number;
}

interface SyntheticMsg {
  readonly kind: 'record' | 'global' | 'ping' | 'ack';
  readonly origin: PeerIdStr;
}

export class SyntheticNode implements ProtocolNode {
  private readonly opts: SyntheticOptions;
  private readonly self: PeerIdStr;
  private readonly rng: Rng;
  private readonly outbox: Outbox;
  private readonly cellTopic: string;
  private readonly peers: PeerIdStr[] = [];
  private readonly known = new Set<PeerIdStr>();
  private nextRecordMs = Infinity;
  private nextProbeMs = Infinity;
  private nextGlobalMs = Infinity;
  private readonly record: Encoded<SyntheticMsg>;
  private readonly ping: Encoded<SyntheticMsg>;
  private readonly ack: Encoded<SyntheticMsg>;
  private seq = 0;

  constructor(opts: SyntheticOptions, modules: { self: PeerIdStr; rng: Rng; outbox: Outbox }) {
    this.opts = opts;
    this.self = modules.self;
    this.rng = modules.rng;
    this.outbox = modules.outbox;
    this.cellTopic = `bench/cell/${hashPrefix(this.self, opts.cellBits)}`;
    this.record = { msg: { kind: 'record', origin: this.self }, bytes: new Uint8Array(opts.recordBytes) };
    this.ping = { msg: { kind: 'ping', origin: this.self }, bytes: new Uint8Array(20) };
    this.ack = { msg: { kind: 'ack', origin: this.self }, bytes: new Uint8Array(20) };
  }

  start(now: Millis): void {
    this.outbox.subscribe(this.cellTopic);
    this.outbox.subscribe('bench/global');
    this.nextRecordMs = now + this.rng.next() * 1000;
    this.nextProbeMs = now + this.rng.next() * 1000;
    this.nextGlobalMs = now + this.expMs(this.opts.clusterSize / this.opts.globalPerSecond);
  }

  stop(): void {
    this.nextRecordMs = this.nextProbeMs = this.nextGlobalMs = Infinity;
  }

  private expMs(meanS: number): number {
    return -Math.log(1 - this.rng.next()) * meanS * 1000;
  }

  onTopicMessage(_topic: string, _from: PeerIdStr, origin: PeerIdStr, payload: Encoded): Verdict {
    if ((payload.msg as SyntheticMsg).kind === 'record' && !this.known.has(origin)) {
      this.known.add(origin);
      this.peers.push(origin);
    }
    return 'accept';
  }

  onDirect(from: PeerIdStr, payload: Encoded): void {
    if ((payload.msg as SyntheticMsg).kind === 'ping') this.outbox.send(from, this.ack);
  }

  onTimer(now: Millis): void {
    if (now >= this.nextRecordMs) {
      // Fresh bytes each time: identical bytes would be one gossipsub message id.
      const bytes = new Uint8Array(this.opts.recordBytes);
      new DataView(bytes.buffer).setUint32(0, ++this.seq);
      this.outbox.publish(this.cellTopic, { msg: this.record.msg, bytes });
      this.nextRecordMs = now + this.opts.recordIntervalMs * (0.8 + 0.4 * this.rng.next());
    }
    if (now >= this.nextProbeMs) {
      for (let k = 0; k < this.opts.probesPerSecond && this.peers.length > 0; k++) this.outbox.send(this.peers[this.rng.int(this.peers.length)]!, this.ping);
      this.nextProbeMs = now + 1000;
    }
    if (now >= this.nextGlobalMs) {
      const bytes = new Uint8Array(this.opts.globalBytes);
      new DataView(bytes.buffer).setUint32(0, ++this.seq);
      this.outbox.publish('bench/global', { msg: { kind: 'global', origin: this.self }, bytes });
      this.nextGlobalMs = now + this.expMs(this.opts.clusterSize / this.opts.globalPerSecond);
    }
  }

  nextTimerAtMs(): Millis {
    return Math.min(this.nextRecordMs, this.nextProbeMs, this.nextGlobalMs);
  }
}
