import type { Millis } from '../core/clock.ts';
import { hash32 } from '../core/hash.ts';
import type { PeerIdStr } from '../core/transport.ts';

/**
 * Which gateway to try first. Entry agents (towards their own cluster's gateways) and
 * gateways (towards a remote cluster's) keep one of these per gateway set: a gateway that
 * failed moves to the back for a back-off that doubles with each failure, and comes back
 * first as soon as it answers again. No manual action is ever needed.
 */
export interface GatewayFailoverOptions {
  readonly backoffMs: Millis;
  readonly maxBackoffMs: Millis;
}

interface Health {
  failures: number;
  retryAtMs: Millis;
}

export class GatewayFailover {
  readonly #opts: GatewayFailoverOptions;
  readonly #preferred: readonly PeerIdStr[];
  readonly #health = new Map<PeerIdStr, Health>();
  #active: PeerIdStr | undefined;

  /**
   * `chooser` rotates the preference order (an entry agent passes its own id), so the
   * entry agents of a cluster spread over its gateways instead of all using the first;
   * without one the configured order is kept.
   */
  constructor(opts: GatewayFailoverOptions, gateways: readonly PeerIdStr[], chooser = '') {
    this.#opts = opts;
    const n = gateways.length;
    const shift = n === 0 || chooser === '' ? 0 : hash32(chooser) % n;
    this.#preferred = gateways.map((_, i) => gateways[(i + shift) % n]!);
  }

  get gateways(): readonly PeerIdStr[] {
    return this.#preferred;
  }

  /** The gateway that answered last, if any. */
  get active(): PeerIdStr | undefined {
    return this.#active;
  }

  /** Every gateway, those not backing off first (preference order), then the others by earliest retry. */
  order(now: Millis): PeerIdStr[] {
    const ready: PeerIdStr[] = [];
    const waiting: PeerIdStr[] = [];
    for (const g of this.#preferred) {
      const h = this.#health.get(g);
      if (h === undefined || h.retryAtMs <= now) ready.push(g);
      else waiting.push(g);
    }
    if (this.#active !== undefined) {
      // Stick to the gateway that works: switching costs a new connection.
      const i = ready.indexOf(this.#active);
      if (i > 0) ready.unshift(...ready.splice(i, 1));
    }
    waiting.sort((a, b) => this.#health.get(a)!.retryAtMs - this.#health.get(b)!.retryAtMs);
    return ready.concat(waiting);
  }

  /** False while `gateway` is backing off after a failure. */
  isReady(gateway: PeerIdStr, now: Millis): boolean {
    const h = this.#health.get(gateway);
    return h === undefined || h.retryAtMs <= now;
  }

  failed(gateway: PeerIdStr, now: Millis): void {
    const h = this.#health.get(gateway) ?? { failures: 0, retryAtMs: 0 };
    h.failures++;
    h.retryAtMs = now + Math.min(this.#opts.maxBackoffMs, this.#opts.backoffMs * 2 ** (h.failures - 1));
    this.#health.set(gateway, h);
    if (this.#active === gateway) this.#active = undefined;
  }

  succeeded(gateway: PeerIdStr): void {
    this.#health.delete(gateway);
    this.#active = gateway;
  }

  /** Gateways currently backing off. */
  backingOff(now: Millis): number {
    let n = 0;
    for (const h of this.#health.values()) if (h.retryAtMs > now) n++;
    return n;
  }
}
