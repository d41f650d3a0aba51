/**
 * Time, injected. The protocol core (`src/gossip`, `src/placement`) never reads the system
 * clock: in the agent this is wall time, in the simulator it is virtual time.
 */

/** Milliseconds since an arbitrary epoch (wall clock in the agent, 0 at start in the simulator). */
export type Millis = number;

export interface TimerHandle {
  cancel(): void;
}

export interface Clock {
  now(): Millis;
  /** Runs `fn` once, `delayMs` from now. Timers due at the same instant run in scheduling order. */
  schedule(delayMs: Millis, fn: () => void): TimerHandle;
}
