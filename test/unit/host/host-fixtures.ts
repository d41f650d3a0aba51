import type { Clock, Millis, TimerHandle } from '../../../src/core/clock.ts';
import { JobSpecSchema, type DriverName, type JobRecord, type JobSpecInput } from '../../../src/core/job.ts';

/** A clock that moves only when told; timers run when `advance` passes their due time. */
export class ManualClock implements Clock {
  private t: Millis;
  private seq = 0;
  private readonly timers = new Map<number, { at: Millis; fn: () => void }>();

  constructor(startMs: Millis = 1_700_000_000_000) {
    this.t = startMs;
  }

  now(): Millis {
    return this.t;
  }

  schedule(delayMs: Millis, fn: () => void): TimerHandle {
    const id = ++this.seq;
    this.timers.set(id, { at: this.t + Math.max(0, delayMs), fn });
    return { cancel: () => this.timers.delete(id) };
  }

  /** Moves time forward, running due timers in order. */
  advance(ms: Millis): void {
    const until = this.t + ms;
    for (;;) {
      let next: [number, { at: Millis; fn: () => void }] | undefined;
      for (const e of this.timers) if (e[1].at <= until && (!next || e[1].at < next[1].at)) next = e;
      if (!next) break;
      this.timers.delete(next[0]);
      this.t = Math.max(this.t, next[1].at);
      next[1].fn();
    }
    this.t = until;
  }

  /** Due times of pending timers, relative to now. */
  pendingDelays(): Millis[] {
    return [...this.timers.values()].map((t) => t.at - this.t).sort((a, b) => a - b);
  }
}

export function record(id: string, input: Partial<JobSpecInput> & { kind?: 'vm' | 'process' } = {}, over: Partial<JobRecord> = {}): JobRecord {
  const kind = input.kind ?? 'vm';
  const spec = JobSpecSchema.parse({
    name: id,
    kind,
    resources: { vcpus: 2, memoryMiB: 256 },
    ...(kind === 'process' ? { command: ['sleep', '60'] } : {}),
    ...input,
  });
  const driver: DriverName = over.driver ?? 'fake';
  return {
    id,
    spec,
    specDigest: 'd',
    host: 'host-a',
    driver,
    desired: 'running',
    state: 'placed',
    epoch: 1,
    createdAtMs: 0,
    updatedAtMs: 0,
    ...over,
  };
}
