import { SeededRng, type Millis, type PeerIdStr } from '../../src/core/index.ts';
import { EventQueue } from '../engine/event-queue.ts';
import { NetworkModel, defaultNetworkOptions, type NetworkOptions } from '../network/network-model.ts';
import { Topology, defaultTopologyOptions, type TopologyOptions } from '../network/topology.ts';
import { makePeerIds } from '../world/peer-ids.ts';
import { SimTransport } from './sim-transport.ts';

export interface SimNetworkOptions {
  seed: number;
  /** Most transports this network will create. */
  hostCapacity: number;
  topology: TopologyOptions;
  network: NetworkOptions;
  /** Largest request or response frame, as the libp2p adapter's `requests.maxFrameBytes`. */
  maxFrameBytes: number;
  /** CPU time between a message arriving and its handler running. */
  processingMs: number;
}

export const defaultSimNetworkOptions: SimNetworkOptions = {
  seed: 1,
  hostCapacity: 64,
  topology: defaultTopologyOptions,
  network: defaultNetworkOptions,
  maxFrameBytes: 1024 * 1024, // bytes; the libp2p adapter's default (src/net/options.ts)
  processingMs: 0.2, // ms; decode and dispatch
};

/**
 * The virtual network behind `SimTransport`: virtual time, the same latency model as the
 * simulator's world, and a connection graph. Unlike the world's hot loop, it runs closures
 * as events (a transport at test scale has few), and it runs them in the background, one
 * per macrotask, so that promise chains (request handlers, awaits in tests) interleave with
 * virtual time exactly as they would with real time: nothing here ever sleeps.
 */
export class SimNetwork {
  readonly opts: SimNetworkOptions;
  nowMs: Millis = 0;
  readonly model: NetworkModel;
  private readonly queue: EventQueue;
  private readonly callbacks: ((() => void) | undefined)[] = [];
  private readonly freeSlots: number[] = [];
  private readonly ids: PeerIdStr[];
  private readonly transports: SimTransport[] = [];
  private readonly byId = new Map<PeerIdStr, SimTransport>();
  private pumping = false;
  private closed = false;

  constructor(opts: SimNetworkOptions) {
    this.opts = opts;
    const rng = new SeededRng(opts.seed);
    const topology = new Topology(opts.topology, opts.hostCapacity);
    this.model = new NetworkModel(opts.network, { topology, rng: rng.fork('network'), hostCapacity: opts.hostCapacity });
    this.queue = new EventQueue(256);
    this.ids = makePeerIds(opts.hostCapacity, rng.fork('peer-ids'));
  }

  /** A new transport on this network (not started). */
  createTransport(): SimTransport {
    const index = this.transports.length;
    if (index >= this.opts.hostCapacity) throw new Error(`SimNetwork holds at most ${this.opts.hostCapacity} transports`);
    const t = new SimTransport(this, index, this.ids[index]!);
    this.transports.push(t);
    this.byId.set(t.self, t);
    return t;
  }

  transport(peer: PeerIdStr): SimTransport | undefined {
    return this.byId.get(peer);
  }

  /** One-way delay from a to b, including the receiver's processing. */
  delayMs(a: SimTransport, b: SimTransport): number {
    return this.model.latencyMs(a.index, b.index) + this.opts.processingMs;
  }

  /** Runs `fn` `delayMs` of virtual time from now. */
  schedule(delayMs: Millis, fn: () => void): void {
    const slot = this.freeSlots.pop() ?? this.callbacks.length;
    this.callbacks[slot] = fn;
    this.queue.push(this.nowMs + Math.max(0, delayMs), 0, 0, slot);
    this.kick();
  }

  private kick(): void {
    if (this.pumping || this.closed) return;
    this.pumping = true;
    setImmediate(() => this.pump());
  }

  private pump(): void {
    if (this.closed || !this.step()) {
      this.pumping = false;
      return;
    }
    setImmediate(() => this.pump());
  }

  /** Runs the next event; false when none is queued. */
  step(): boolean {
    if (!this.queue.pop()) return false;
    this.nowMs = this.queue.timeMs;
    const slot = this.queue.payload;
    const fn = this.callbacks[slot]!;
    this.callbacks[slot] = undefined;
    this.freeSlots.push(slot);
    fn();
    return true;
  }

  /**
   * Resolves once `cond()` holds. Virtual time advances as events run; when the next event
   * lies beyond `timeoutMs` of virtual time, or nothing is left to happen, it rejects naming
   * `what` (after letting pending promise chains settle, which may schedule more events).
   */
  async waitFor(cond: () => boolean, timeoutMs: number, what: string): Promise<void> {
    const deadline = this.nowMs + timeoutMs;
    let idleRounds = 0;
    for (;;) {
      if (cond()) return;
      if (this.queue.size === 0) {
        // Promise chains may still be about to schedule something.
        if (++idleRounds > 3) {
          this.nowMs = Math.max(this.nowMs, deadline);
          throw new Error(`timed out after ${timeoutMs} virtual ms waiting for: ${what} (nothing left to happen)`);
        }
      } else {
        idleRounds = 0;
        if (this.queue.peekTimeMs() > deadline) {
          throw new Error(`timed out after ${timeoutMs} virtual ms waiting for: ${what}`);
        }
      }
      await new Promise<void>((resolve) => setImmediate(resolve));
    }
  }

  /** Stops the background pump; pending events are dropped. */
  close(): void {
    this.closed = true;
    this.queue.clear();
  }
}
