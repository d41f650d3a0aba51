import { setTimeout as delay } from 'node:timers/promises';
import { DriverError } from './driver-errors.ts';
import type { DriverCallOptions } from './driver.ts';

/**
 * One driver call's cancellation: the caller's signal and the call's timeout folded into a
 * single AbortSignal, so every await inside the call can be cut short by either, and the
 * error says which one fired.
 */
export class CallScope {
  readonly what: string;
  readonly signal: AbortSignal;
  readonly timeoutMs: number;
  readonly deadlineMs: number;
  private readonly callerSignal: AbortSignal | undefined;
  private readonly timeoutSignal: AbortSignal;

  constructor(what: string, opts: DriverCallOptions | undefined, defaultTimeoutMs: number) {
    this.what = what;
    this.timeoutMs = opts?.timeoutMs ?? defaultTimeoutMs;
    this.deadlineMs = Date.now() + this.timeoutMs;
    this.callerSignal = opts?.signal;
    this.timeoutSignal = AbortSignal.timeout(this.timeoutMs);
    this.signal = this.callerSignal ? AbortSignal.any([this.callerSignal, this.timeoutSignal]) : this.timeoutSignal;
  }

  /** A scope that fails at once when the caller's signal has already fired. */
  static begin(what: string, opts: DriverCallOptions | undefined, defaultTimeoutMs: number): CallScope {
    const scope = new CallScope(what, opts, defaultTimeoutMs);
    scope.check();
    return scope;
  }

  /** Milliseconds left before the timeout, never negative. */
  remainingMs(): number {
    return Math.max(0, this.deadlineMs - Date.now());
  }

  /** The error for an aborted scope: DRIVER_ABORTED when the caller cancelled, else DRIVER_TIMEOUT. */
  abortError(): DriverError {
    if (this.callerSignal?.aborted) {
      return new DriverError('DRIVER_ABORTED', `${this.what}: cancelled`, { reason: String(this.callerSignal.reason) });
    }
    return new DriverError('DRIVER_TIMEOUT', `${this.what}: no result within ${this.timeoutMs} ms`, { timeoutMs: this.timeoutMs });
  }

  /** Throws the abort error if the scope has been cancelled or timed out. */
  check(): void {
    if (this.signal.aborted) throw this.abortError();
  }

  /** Maps an abort from inside (AbortError, TimeoutError) to a DriverError; other errors pass through. */
  translate(err: unknown): unknown {
    if (err instanceof DriverError) return err;
    if (this.signal.aborted) return this.abortError();
    return err;
  }

  /** Waits `ms`, or throws the abort error when the scope ends first. */
  async pause(ms: number): Promise<void> {
    try {
      await delay(ms, undefined, { signal: this.signal });
    } catch (err) {
      throw this.translate(err);
    }
  }

  /** Polls `test` every `everyMs` until it returns true (→ true) or `withinMs` passes (→ false); honours the scope. */
  async waitFor(test: () => boolean | Promise<boolean>, withinMs: number, everyMs = 25): Promise<boolean> {
    const until = Date.now() + withinMs;
    for (;;) {
      if (await test()) return true;
      if (Date.now() >= until) return false;
      await this.pause(Math.min(everyMs, Math.max(1, until - Date.now())));
    }
  }
}
