import type { Clock, Millis, TimerHandle } from './clock.ts';

/**
 * One pending wake-up on an injected Clock: drivers of a sans-I/O node keep a single timer
 * at the node's next deadline and move it, rather than stacking one timer per request.
 */
export class Alarm {
  private readonly clock: Clock;
  private readonly fire: () => void;
  private timer: TimerHandle | undefined;
  private atMs: Millis = Infinity;

  constructor(clock: Clock, fire: () => void) {
    this.clock = clock;
    this.fire = fire;
  }

  /** When it rings next; Infinity when unset. */
  get armedAtMs(): Millis {
    return this.atMs;
  }

  /** Rings at `atMs` (at once when past; never for Infinity or NaN), replacing any other setting. */
  setAt(atMs: Millis): void {
    if (atMs === this.atMs) return;
    this.cancel();
    if (Number.isNaN(atMs) || atMs === Infinity) return;
    this.atMs = atMs;
    this.timer = this.clock.schedule(Math.max(0, atMs - this.clock.now()), this.ring);
  }

  /** Rings within `delayMs`: moves the alarm earlier, never later. */
  setWithin(delayMs: Millis): void {
    const at = this.clock.now() + delayMs;
    if (at < this.atMs) this.setAt(at);
  }

  cancel(): void {
    this.timer?.cancel();
    this.timer = undefined;
    this.atMs = Infinity;
  }

  private readonly ring = (): void => {
    this.timer = undefined;
    this.atMs = Infinity;
    this.fire();
  };
}
