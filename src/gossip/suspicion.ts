/**
 * Lifeguard (Dadgar et al., 2018), the two parts that keep false positives down.
 *
 * Local health awareness: a node that misses acks, or has to refute suspicions about
 * itself, is more likely the slow one than its peers. Its score stretches its own probe
 * interval and ack timeouts, so an overloaded node slows its accusations instead of
 * accusing healthy peers.
 *
 * Dynamic suspicion: the suspicion timeout starts at `maxMs` and shrinks towards `minMs`
 * as independent accusers confirm it, logarithmically.
 */
export function suspicionTimeoutMs(minMs: number, maxMs: number, confirmations: number, expectedConfirmations: number): number {
  if (expectedConfirmations < 1 || confirmations >= expectedConfirmations) return minMs;
  if (confirmations <= 0) return maxMs;
  const frac = Math.log(confirmations + 1) / Math.log(expectedConfirmations + 1);
  const t = maxMs - (maxMs - minMs) * frac;
  return t > minMs ? t : minMs;
}

export class Awareness {
  private internal = 0;
  private external = 0;
  private readonly max: number;

  constructor(max: number) {
    this.max = max;
  }

  /** A probe of ours failed, or we had to refute a suspicion about ourselves. */
  worse(): void {
    if (this.internal < this.max) this.internal++;
  }

  /** A probe of ours succeeded. */
  better(): void {
    if (this.internal > 0) this.internal--;
  }

  /** Load the driver measures (event-loop lag, CPU steal), in the same 0..max units. */
  setExternal(score: number): void {
    this.external = score > 0 ? (score < this.max ? score : this.max) : 0;
  }

  get score(): number {
    const s = this.internal + this.external;
    return s < this.max ? s : this.max;
  }

  /** Multiplier for the probe interval and timeouts: 1 when healthy, up to 1 + max. */
  get factor(): number {
    return 1 + this.score;
  }
}
