import type { Encoded, Millis, Outbox, PeerIdStr } from '../../src/core/index.ts';

/**
 * Request/response for federation messages over the world's direct messages: the two
 * channels of the agent (entry agent → gateway over the mesh, gateway → gateway over the
 * federation channel) as the simulator carries them. Bytes are the real
 * `encodeFederationMessage` output; receivers decode and validate them with the real schemas.
 * Timeouts are this host's timer, so a dead peer costs the full timeout, as in the agent.
 */

export type Channel = 'entry' | 'remote';
/** What a request is for, for per-gateway accounting. */
export type TrafficClass = 'summary' | 'burst' | 'lookup';

/** One federation frame in flight: a request or the reply to one. */
export class FederationPayload implements Encoded<null> {
  readonly msg = null;
  readonly kind: 'request' | 'reply';
  readonly channel: Channel;
  readonly id: number;
  readonly cls: TrafficClass;
  readonly bytes: Uint8Array;
  constructor(kind: 'request' | 'reply', channel: Channel, id: number, cls: TrafficClass, bytes: Uint8Array) {
    this.kind = kind;
    this.channel = channel;
    this.id = id;
    this.cls = cls;
    this.bytes = bytes;
  }
}

/** How a request failed at the transport: `delivered` when the peer may have run it (a timeout after sending). */
export interface RpcFailure {
  readonly code: 'NET_TIMEOUT' | 'NET_UNREACHABLE' | 'NET_STREAM_FAILED';
  readonly delivered: boolean;
}

export type RpcAnswer = { readonly ok: true; readonly bytes: Uint8Array } | { readonly ok: false; readonly failure: RpcFailure };

export interface RpcLinks {
  /** The peer's agent is gone but its host is up: the connection is refused (RST) after one round trip. */
  refuses(peer: PeerIdStr): boolean;
  /** A round trip to `peer`, for a refused connection. */
  rttMs(peer: PeerIdStr): number;
}

/** Sees every federation frame a host sends or receives (per-gateway load). */
export type TrafficTap = (dir: 'in' | 'out', kind: 'request' | 'reply', cls: TrafficClass, bytes: number) => void;

interface Pending {
  readonly to: PeerIdStr;
  readonly deadline: Millis;
  readonly failure: RpcFailure;
  readonly cb: (answer: RpcAnswer, now: Millis) => void;
}

export class FederationRpc {
  readonly #outbox: Outbox;
  readonly #links: RpcLinks;
  readonly #tap: TrafficTap | null;
  readonly #pending = new Map<number, Pending>();
  #seq = 0;
  #next = Infinity;

  constructor(outbox: Outbox, links: RpcLinks, tap: TrafficTap | null) {
    this.#outbox = outbox;
    this.#links = links;
    this.#tap = tap;
  }

  request(to: PeerIdStr, channel: Channel, cls: TrafficClass, bytes: Uint8Array, timeoutMs: Millis, now: Millis, cb: (answer: RpcAnswer, now: Millis) => void): void {
    const id = ++this.#seq;
    if (this.#links.refuses(to)) {
      // Connection refused: nothing was sent, the caller learns it after a round trip.
      this.#add(id, { to, deadline: now + this.#links.rttMs(to), failure: { code: 'NET_UNREACHABLE', delivered: false }, cb });
      return;
    }
    this.#add(id, { to, deadline: now + timeoutMs, failure: { code: 'NET_TIMEOUT', delivered: true }, cb });
    this.#tap?.('out', 'request', cls, bytes.length);
    this.#outbox.send(to, new FederationPayload('request', channel, id, cls, bytes));
  }

  reply(to: PeerIdStr, req: FederationPayload, bytes: Uint8Array): void {
    this.#tap?.('out', 'reply', req.cls, bytes.length);
    this.#outbox.send(to, new FederationPayload('reply', req.channel, req.id, req.cls, bytes));
  }

  /** A received frame: replies complete their request; requests are for the caller to serve. */
  onFrame(p: FederationPayload, now: Millis): void {
    this.#tap?.('in', p.kind, p.cls, p.bytes.length);
    if (p.kind !== 'reply') return;
    const pending = this.#pending.get(p.id);
    // A reply after the timeout is dropped, as the agent's stream is gone by then.
    if (pending === undefined) return;
    this.#remove(p.id, pending);
    pending.cb({ ok: true, bytes: p.bytes }, now);
  }

  nextTimerAtMs(): Millis {
    return this.#next;
  }

  onTimer(now: Millis): void {
    for (const [id, p] of this.#pending) {
      if (p.deadline > now) continue;
      this.#remove(id, p);
      p.cb({ ok: false, failure: p.failure }, now);
    }
  }

  /** `peer`'s agent died (its kernel resets the connection): requests in flight to it fail at `atMs`, possibly delivered. */
  reset(peer: PeerIdStr, atMs: Millis): void {
    for (const [id, p] of this.#pending) {
      if (p.to !== peer || p.deadline <= atMs) continue;
      this.#add(id, { to: p.to, deadline: atMs, failure: { code: 'NET_STREAM_FAILED', delivered: true }, cb: p.cb });
    }
  }

  get pending(): number {
    return this.#pending.size;
  }

  #add(id: number, p: Pending): void {
    this.#pending.set(id, p);
    if (p.deadline < this.#next) this.#next = p.deadline;
  }

  #remove(id: number, p: Pending): void {
    this.#pending.delete(id);
    if (p.deadline > this.#next) return;
    let next = Infinity;
    for (const q of this.#pending.values()) if (q.deadline < next) next = q.deadline;
    this.#next = next;
  }
}
