import type { Clock, TimerHandle } from '../core/clock.ts';

/** Wall-clock time for the real agent; the simulator supplies a virtual one instead. */
export const systemClock: Clock = {
  now: () => Date.now(),
  schedule(delayMs: number, fn: () => void): TimerHandle {
    const timer = setTimeout(fn, Math.max(0, delayMs));
    timer.unref();
    return { cancel: () => clearTimeout(timer) };
  },
};
