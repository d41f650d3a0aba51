import { ShoalError, type PeerEvent, type PeerIdStr, type RequestHandler, type RequestOptions, type TopicHandler, type Transport, type Verdict } from '../../src/core/index.ts';
import { NetError, NetErrorCode } from '../../src/net/errors.ts';
import { hashBytes } from '../overlay/gossipsub-model.ts';
import type { SimNetwork } from './sim-network.ts';

/**
 * The `Transport` of src/core/transport.ts on the simulator's virtual network. It behaves as
 * the libp2p adapter does, as the shared compliance suite checks: subscriptions are
 * announced to connected peers; a publish goes to connected subscribers, each validates
 * before forwarding (flooding among connected subscribers, which is what a gossipsub mesh is
 * when a topic has fewer than D peers); message ids are content hashes per signer, so a
 * node handles a message once; requests fail with the adapter's NET_ codes.
 */
export class SimTransport implements Transport {
  readonly self: PeerIdStr;
  readonly index: number;
  private readonly net: SimNetwork;
  private state: 'new' | 'started' | 'stopped' = 'new';
  private readonly subs = new Set<string>();
  /** What each connected peer told us it subscribes to. */
  private readonly peerSubs = new Map<PeerIdStr, Set<string>>();
  private readonly connections = new Set<PeerIdStr>();
  private readonly seen = new Set<string>();
  private topicHandler: TopicHandler | null = null;
  private readonly handlers = new Map<string, RequestHandler>();
  private readonly listeners: ((ev: PeerEvent) => void)[] = [];
  /** Last arrival time we scheduled per peer: a connection is a TCP stream, so it keeps order despite jitter. */
  private readonly lastArrivalMs = new Map<PeerIdStr, number>();
  /** Counters a test can read. */
  readonly stats = { published: 0, delivered: 0, duplicates: 0, rejected: 0, publishNoPeers: 0 };

  constructor(net: SimNetwork, index: number, self: PeerIdStr) {
    this.net = net;
    this.index = index;
    this.self = self;
  }

  get running(): boolean {
    return this.state === 'started';
  }

  listenAddrs(): string[] {
    return this.running ? [`/sim/host/${this.index}`] : [];
  }

  async start(): Promise<void> {
    if (this.state !== 'new') throw new NetError(NetErrorCode.alreadyStarted, `transport ${this.self} was already started`);
    this.state = 'started';
  }

  async stop(): Promise<void> {
    if (this.state === 'stopped') return;
    this.state = 'stopped';
    for (const peer of [...this.connections]) this.disconnect(peer, true);
  }

  // ---- pubsub ----

  subscribe(topic: string): void {
    if (this.subs.has(topic)) return;
    this.subs.add(topic);
    this.announce(topic, true);
  }

  unsubscribe(topic: string): void {
    if (!this.subs.delete(topic)) return;
    this.announce(topic, false);
  }

  private announce(topic: string, subscribed: boolean): void {
    if (!this.running) return;
    for (const peer of this.connections) {
      const other = this.net.transport(peer)!;
      this.sendOrdered(other, () => other.onAnnounce(this.self, topic, subscribed));
    }
  }

  private onAnnounce(from: PeerIdStr, topic: string, subscribed: boolean): void {
    const set = this.peerSubs.get(from);
    if (set === undefined || !this.connections.has(from)) return;
    if (subscribed) set.add(topic);
    else set.delete(topic);
  }

  publish(topic: string, data: Uint8Array): void {
    if (!this.running) return;
    const id = messageId(this.self, topic, data);
    if (this.seen.has(id)) return;
    this.seen.add(id);
    this.stats.published++;
    if (this.forward(topic, this.self, this.self, data, id) === 0) this.stats.publishNoPeers++;
  }

  setTopicHandler(handler: TopicHandler): void {
    this.topicHandler = handler;
  }

  topicPeers(topic: string): PeerIdStr[] {
    const out: PeerIdStr[] = [];
    for (const peer of this.connections) if (this.peerSubs.get(peer)?.has(topic)) out.push(peer);
    return out;
  }

  /** Sends to every connected subscriber except the one it came from and its origin; returns copies sent. */
  private forward(topic: string, from: PeerIdStr, origin: PeerIdStr, data: Uint8Array, id: string): number {
    let sent = 0;
    for (const peer of this.connections) {
      if (peer === from || peer === origin || !this.peerSubs.get(peer)?.has(topic)) continue;
      const other = this.net.transport(peer)!;
      sent++;
      this.sendOrdered(other, () => other.onMessage(topic, this.self, origin, data, id));
    }
    return sent;
  }

  private onMessage(topic: string, from: PeerIdStr, origin: PeerIdStr, data: Uint8Array, id: string): void {
    if (!this.running || !this.connections.has(from) || !this.subs.has(topic)) return;
    if (this.seen.has(id)) {
      this.stats.duplicates++;
      return;
    }
    this.seen.add(id);
    let verdict: Verdict = 'accept';
    if (this.topicHandler !== null) {
      try {
        verdict = this.topicHandler({ topic, from, origin, data });
      } catch {
        // A throwing validator is a reject in gossipsub too.
        verdict = 'reject';
      }
    }
    if (verdict !== 'accept') {
      if (verdict === 'reject') this.stats.rejected++;
      return;
    }
    this.stats.delivered++;
    this.forward(topic, from, origin, data, id);
  }

  /** Schedules `fn` at `other` after one way, never before an earlier send on the same connection. */
  private sendOrdered(other: SimTransport, fn: () => void): void {
    const at = Math.max(this.net.nowMs + this.net.delayMs(this, other), this.lastArrivalMs.get(other.self) ?? 0);
    this.lastArrivalMs.set(other.self, at);
    this.net.schedule(at - this.net.nowMs, fn);
  }

  // ---- request/response ----

  handle(protocol: string, handler: RequestHandler): void {
    if (this.handlers.has(protocol)) throw new NetError(NetErrorCode.duplicateHandler, `a handler for ${protocol} is already registered`, { protocol });
    this.handlers.set(protocol, handler);
  }

  request(peer: PeerIdStr, protocol: string, data: Uint8Array, opts: RequestOptions): Promise<Uint8Array> {
    return new Promise<Uint8Array>((resolve, reject) => {
      if (!this.running) return reject(new NetError(NetErrorCode.notStarted, 'transport is not started'));
      const max = this.net.opts.maxFrameBytes;
      if (data.length > max) return reject(new NetError(NetErrorCode.frameTooLarge, `request of ${data.length} bytes exceeds ${max}`, { bytes: data.length, maxFrameBytes: max }));
      if (opts.signal?.aborted) return reject(new NetError(NetErrorCode.aborted, 'request aborted before it was sent'));
      const target = this.net.transport(peer);
      if (target === undefined || !target.running) return reject(new NetError(NetErrorCode.unreachable, `peer ${peer} is unreachable`, { peer }));
      let done = false;
      const remote = new AbortController();
      const finish = (err: Error | null, res?: Uint8Array): void => {
        if (done) return;
        done = true;
        opts.signal?.removeEventListener('abort', onAbort);
        if (err !== null) {
          // Tell the remote handler we gave up, as a stream reset does.
          this.net.schedule(this.net.delayMs(this, target), () => remote.abort());
          reject(err);
        } else resolve(res!);
      };
      const onAbort = (): void => finish(new NetError(NetErrorCode.aborted, 'request aborted by the caller'));
      opts.signal?.addEventListener('abort', onAbort);
      this.net.schedule(opts.timeoutMs, () => finish(new NetError(NetErrorCode.timeout, `no response from ${peer} within ${opts.timeoutMs} ms`, { peer, timeoutMs: opts.timeoutMs })));
      if (!this.connections.has(peer)) this.link(target);
      this.net.schedule(this.net.delayMs(this, target), () => target.onRequest(this, protocol, data, remote.signal, finish));
    });
  }

  send(peer: PeerIdStr, protocol: string, data: Uint8Array, _opts: { timeoutMs: number }): Promise<void> {
    if (!this.running) return Promise.reject(new NetError(NetErrorCode.notStarted, 'transport is not started'));
    const max = this.net.opts.maxFrameBytes;
    if (data.length > max) return Promise.reject(new NetError(NetErrorCode.frameTooLarge, `message of ${data.length} bytes exceeds ${max}`, { bytes: data.length, maxFrameBytes: max }));
    const target = this.net.transport(peer);
    if (target === undefined || !target.running) return Promise.reject(new NetError(NetErrorCode.unreachable, `peer ${peer} is unreachable`, { peer }));
    // The adapter learns this when it opens the channel; the virtual network knows it at once.
    if (!target.handlers.has(protocol)) return Promise.reject(new NetError(NetErrorCode.noHandler, `peer ${peer} does not serve ${protocol}`, { peer, protocol }));
    if (!this.connections.has(peer)) this.link(target);
    this.sendOrdered(target, () => target.onOneWay(this.self, protocol, data));
    return Promise.resolve();
  }

  private onOneWay(from: PeerIdStr, protocol: string, data: Uint8Array): void {
    const handler = this.handlers.get(protocol);
    if (!this.running || handler === undefined) return;
    // One-way: the answer, and any failure, stay here.
    Promise.resolve()
      .then(() => handler(from, data, new AbortController().signal))
      .catch(() => undefined);
  }

  private onRequest(from: SimTransport, protocol: string, data: Uint8Array, signal: AbortSignal, reply: (err: Error | null, res?: Uint8Array) => void): void {
    const back = (err: Error | null, res?: Uint8Array): void => this.net.schedule(this.net.delayMs(this, from), () => reply(err, res));
    if (!this.running) return back(new NetError(NetErrorCode.unreachable, `peer ${this.self} is unreachable`, { peer: this.self }));
    const handler = this.handlers.get(protocol);
    if (handler === undefined) return back(new NetError(NetErrorCode.noHandler, `peer ${this.self} does not serve ${protocol}`, { peer: this.self, protocol }));
    const max = this.net.opts.maxFrameBytes;
    Promise.resolve()
      .then(() => handler(from.self, data, signal))
      .then(
        (res) => {
          if (res.length > max) back(new NetError(NetErrorCode.frameTooLarge, `response of ${res.length} bytes exceeds ${max}`, { bytes: res.length, maxFrameBytes: max }));
          else back(null, res);
        },
        (err: unknown) => {
          const remoteCode = err instanceof ShoalError ? err.code : undefined;
          back(new NetError(NetErrorCode.remoteError, `handler of ${protocol} at ${this.self} failed: ${err instanceof Error ? err.message : String(err)}`, { peer: this.self, protocol, remoteCode }));
        },
      );
  }

  // ---- peers ----

  onPeerEvent(listener: (ev: PeerEvent) => void): void {
    this.listeners.push(listener);
  }

  connectedPeers(): PeerIdStr[] {
    return [...this.connections];
  }

  dial(peer: PeerIdStr, _addrs: readonly string[], opts: { signal?: AbortSignal } = {}): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      if (!this.running) return reject(new NetError(NetErrorCode.notStarted, 'transport is not started'));
      if (opts.signal?.aborted) return reject(new NetError(NetErrorCode.aborted, 'dial aborted'));
      const target = this.net.transport(peer);
      if (target === undefined || !target.running || target === this) return reject(new NetError(NetErrorCode.unreachable, `peer ${peer} is unreachable`, { peer }));
      if (this.connections.has(peer)) return resolve();
      this.link(target, (ok) => (ok ? resolve() : reject(new NetError(NetErrorCode.unreachable, `peer ${peer} went away while dialling`, { peer }))));
    });
  }

  async hangUp(peer: PeerIdStr): Promise<void> {
    if (this.connections.has(peer)) this.disconnect(peer, true);
  }

  /** Opens a connection: each side learns of it after one way, with the other's subscriptions. */
  private link(target: SimTransport, done?: (ok: boolean) => void): void {
    const d = this.net.delayMs(this, target);
    this.net.schedule(d, () => {
      if (!this.running || !target.running) return done?.(false);
      target.addConnection(this);
      this.net.schedule(d, () => {
        const ok = this.running && target.running;
        if (ok) this.addConnection(target);
        done?.(ok);
      });
    });
  }

  private addConnection(other: SimTransport): void {
    if (this.connections.has(other.self)) return;
    this.connections.add(other.self);
    this.peerSubs.set(other.self, new Set(other.subs));
    this.emit({ type: 'connect', peer: other.self });
  }

  /** Closes the connection here at once and at the peer after one way. */
  private disconnect(peer: PeerIdStr, notifyPeer: boolean): void {
    if (!this.connections.delete(peer)) return;
    this.peerSubs.delete(peer);
    this.emit({ type: 'disconnect', peer });
    const other = this.net.transport(peer);
    if (notifyPeer && other !== undefined) this.net.schedule(this.net.delayMs(this, other), () => other.disconnect(this.self, false));
  }

  private emit(ev: PeerEvent): void {
    for (const l of this.listeners) l(ev);
  }
}

function messageId(origin: PeerIdStr, topic: string, data: Uint8Array): string {
  return `${origin}\0${topic}\0${data.length}:${hashBytes(data)}`;
}
