/** Polls `cond` until it returns a truthy value, or fails after `timeoutMs` saying what it waited for. Never a fixed sleep. */
export async function waitFor<T>(cond: () => T | Promise<T>, opts: { timeoutMs: number; what: string; intervalMs?: number }): Promise<NonNullable<T>> {
  const deadline = Date.now() + opts.timeoutMs;
  let lastError: unknown;
  for (;;) {
    try {
      const value = await cond();
      if (value) return value as NonNullable<T>;
    } catch (err) {
      lastError = err;
    }
    if (Date.now() > deadline) {
      throw new Error(`timed out after ${opts.timeoutMs} ms waiting for ${opts.what}${lastError ? ` (last error: ${(lastError as Error).message})` : ''}`);
    }
    await new Promise((r) => setTimeout(r, opts.intervalMs ?? 50));
  }
}
