import type { Clock, Millis, TimerHandle } from '../core/clock.ts';

/**
 * Wall-clock time for the real agent; the simulator supplies virtual time instead. Lives
 * here because `src/core` must not read time (rule 1).
 *
 * `unref` timers by default: a protocol timer alone should not keep a stopping process alive.
 */
export class SystemClock implements Clock {
  readonly #unref: boolean;

  constructor(opts: { unref?: boolean } = {}) {
    this.#unref = opts.unref ?? true;
  }

  now(): Millis {
    return Date.now();
  }

  schedule(delayMs: Millis, fn: () => void): TimerHandle {
    // setTimeout clamps to 1 ms, and silently fires at once for NaN/huge values: normalise.
    const ms = Number.isFinite(delayMs) ? Math.min(Math.max(0, delayMs), 0x7fffffff) : 0x7fffffff;
    const timer = setTimeout(fn, ms);
    if (this.#unref) timer.unref();
    return { cancel: () => clearTimeout(timer) };
  }
}

export const systemClock: Clock = new SystemClock();
