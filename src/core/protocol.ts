import type { Millis } from './clock.ts';
import type { PeerIdStr, Verdict } from './transport.ts';

/**
 * The sans-I/O contract of the protocol core. A node never performs I/O and never reads a
 * clock: handlers are synchronous, receive `now`, and push the effects they want into an
 * Outbox. A driver carries the effects out: the agent's runner over libp2p and real
 * timers, or the simulator over its virtual network and event queue. Because nothing is
 * awaited per event, the simulator runs millions of events per second, deterministically.
 */

/** A message with its wire bytes. Decoded once; the simulator shares one among every node that receives it. */
export interface Encoded<T = unknown> {
  readonly msg: T;
  readonly bytes: Uint8Array;
  /**
   * The wire size, when it is known without `bytes`: an encoder may then build `bytes` on
   * first read. Sync answers are joined from cached parts, and the simulator only ever needs
   * their size. Read it with `wireSize`.
   */
  readonly byteLength?: number;
}

/** Bytes `p` takes on the wire, without building them when the encoder knows the size. */
export function wireSize(p: Encoded): number {
  return p.byteLength ?? p.bytes.length;
}

export interface Outbox {
  publish(topic: string, payload: Encoded): void;
  subscribe(topic: string): void;
  unsubscribe(topic: string): void;
  /** A one-way direct message; replies, if any, come back as direct messages. */
  send(to: PeerIdStr, payload: Encoded): void;
  /** Keep a connection to this peer (cell neighbours, contacts); the driver may decline. */
  connect(peer: PeerIdStr, addrs: readonly string[]): void;
}

export interface ProtocolNode {
  start(now: Millis): void;
  /** Graceful leave: announce it through the outbox, then stop scheduling timers. */
  stop(now: Millis): void;
  /** Validates and, on `accept`, applies. Called before gossipsub forwards the message. */
  onTopicMessage(topic: string, from: PeerIdStr, origin: PeerIdStr, payload: Encoded, now: Millis): Verdict;
  onDirect(from: PeerIdStr, payload: Encoded, now: Millis): void;
  onTimer(now: Millis): void;
  /** When `onTimer` next wants to run; `Infinity` when idle. Re-read after every handler call. */
  nextTimerAtMs(): Millis;
}
