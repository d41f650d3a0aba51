import { setTimeout as delay } from 'node:timers/promises';
import { ShoalError } from '../src/core/index.ts';

/**
 * Polls `check` until it returns a value other than undefined, or fails with
 * BENCH_TIMEOUT naming `what`. Errors thrown by `check` count as "not yet" (an agent still
 * starting refuses connections); the last one is kept as the cause.
 */
export async function pollUntil<T>(
  what: string,
  check: () => Promise<T | undefined> | T | undefined,
  opts: { timeoutMs: number; intervalMs: number; signal?: AbortSignal | undefined },
): Promise<T> {
  const deadline = performance.now() + opts.timeoutMs;
  let lastError: unknown;
  for (;;) {
    opts.signal?.throwIfAborted();
    try {
      const v = await check();
      if (v !== undefined) return v;
    } catch (err) {
      lastError = err;
    }
    if (performance.now() >= deadline) {
      const why = lastError instanceof Error ? `: ${lastError.message}` : '';
      throw new ShoalError('BENCH_TIMEOUT', `${what}: not reached within ${opts.timeoutMs} ms${why}`, { what, timeoutMs: opts.timeoutMs }, lastError === undefined ? undefined : { cause: lastError });
    }
    await delay(opts.intervalMs, undefined, opts.signal ? { signal: opts.signal } : undefined);
  }
}

/** Runs `fn` over `items` with at most `limit` in flight; results keep the items' order. */
export async function mapLimit<T, R>(items: readonly T[], limit: number, fn: (item: T, index: number) => Promise<R>): Promise<R[]> {
  const out = new Array<R>(items.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i]!, i);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return out;
}
