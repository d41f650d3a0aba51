import type { Millis } from '../core/clock.ts';

/** A plain token bucket: `ratePerSec` tokens a second, up to `burst`; starts full. */
export class TokenBucket {
  private tokens: number;
  private atMs: Millis;
  private readonly ratePerSec: number;
  private readonly burst: number;

  constructor(ratePerSec: number, burst: number, now: Millis) {
    this.ratePerSec = ratePerSec;
    this.burst = burst;
    this.tokens = burst;
    this.atMs = now;
  }

  take(now: Millis): boolean {
    if (now > this.atMs) {
      this.tokens = Math.min(this.burst, this.tokens + ((now - this.atMs) * this.ratePerSec) / 1000);
      this.atMs = now;
    }
    if (this.tokens < 1) return false;
    this.tokens--;
    return true;
  }
}
