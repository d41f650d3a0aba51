/**
 * Serializes async work per key (one VM, one domain). A QEMU QMP socket serves one client
 * at a time, and a stop racing a start on the same instance must not interleave, while
 * different instances proceed in parallel.
 */
export class KeyedLock {
  private readonly tails = new Map<string, Promise<unknown>>();

  async run<T>(key: string, fn: () => Promise<T>): Promise<T> {
    const prev = this.tails.get(key) ?? Promise.resolve();
    const next = prev.then(fn, fn);
    const tail = next.catch(() => undefined);
    this.tails.set(key, tail);
    try {
      return await next;
    } finally {
      // Drop the entry once nothing is queued behind us, so the map does not grow with every VM ever seen.
      if (this.tails.get(key) === tail) this.tails.delete(key);
    }
  }
}
