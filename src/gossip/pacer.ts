import type { Millis } from '../core/clock.ts';
import type { TopicBudget } from './options.ts';

/**
 * Paces one publisher on one topic. The topic's total budget (messages/s and bytes/s) is
 * shared by its `publishers`, so each gets budget / publishers: the traffic a subscriber
 * receives stays flat however large the cluster grows.
 *
 * Credit is kept in milliseconds of allowance and accrues one per millisecond, up to
 * `burstMessages` messages' worth: a quiet publisher can send a few changes at once,
 * a busy one is held to its share. A message costs the longer of its message share and
 * its byte share. `charge` may drive the credit negative (refutations and leaves are
 * never held back); the debt is then paid before the next paced message.
 *
 * The first refill grants a full burst. A random share of it for the global digests (29ebb9a)
 * spread a cold start's first digests, but held them back for up to 4 s × districts, and
 * without its district's first digest no host elsewhere can find its cells (reporter.ts).
 */
export class PublishPacer {
  private creditMs = 0;
  private lastMs: Millis;
  /** The first refill grants a full burst, like any token bucket: a quiet node's first few messages are not delayed. */
  private primed = true;
  private readonly budget: TopicBudget;

  constructor(budget: TopicBudget, now: Millis) {
    this.budget = budget;
    this.lastMs = now;
  }

  /** Allowance cost of one message of `bytes` bytes, in ms, at the current share. */
  costMs(bytes: number, publishers: number): number {
    const n = publishers > 1 ? publishers : 1;
    const msgMs = (1000 * n) / this.budget.msgsPerSec;
    const byteMs = (1000 * n * bytes) / this.budget.bytesPerSec;
    return msgMs > byteMs ? msgMs : byteMs;
  }

  private maxCreditMs(publishers: number): number {
    const n = publishers > 1 ? publishers : 1;
    return (this.budget.burstMessages * 1000 * n) / this.budget.msgsPerSec;
  }

  private refill(now: Millis, publishers: number): void {
    if (this.primed) {
      this.primed = false;
      this.creditMs = this.maxCreditMs(publishers);
    }
    if (now > this.lastMs) {
      this.creditMs += now - this.lastMs;
      this.lastMs = now;
    }
    const max = this.maxCreditMs(publishers);
    if (this.creditMs > max) this.creditMs = max;
  }

  /** When a message of `bytes` may go out (≤ now: at once). A message costlier than the burst only needs a full burst. */
  readyAtMs(now: Millis, bytes: number, publishers: number): Millis {
    this.refill(now, publishers);
    const need = Math.min(this.costMs(bytes, publishers), this.maxCreditMs(publishers));
    return this.creditMs >= need ? now : now + (need - this.creditMs);
  }

  /** Pays for a message sent now. */
  charge(now: Millis, bytes: number, publishers: number): void {
    this.refill(now, publishers);
    this.creditMs -= this.costMs(bytes, publishers);
  }

  /** Current credit in ms (for tests and `shoal info`). */
  credit(now: Millis, publishers: number): number {
    this.refill(now, publishers);
    return this.creditMs;
  }
}
