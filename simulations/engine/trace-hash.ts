/**
 * A running FNV-1a hash over every delivered event's (time, node, kind, size). Two runs with
 * the same seed and config must end with the same value; tests assert it to prove the
 * simulator is deterministic. Time is folded in at microsecond resolution so float noise
 * below that cannot hide a divergence or invent one.
 */
export class TraceHash {
  private h = 0x811c9dc5;
  /** Number of events folded in. */
  events = 0;

  add(timeMs: number, node: number, kind: number, size: number): void {
    const us = Math.round(timeMs * 1000);
    let h = this.h;
    h = Math.imul(h ^ (us & 0xffffffff), 0x01000193);
    h = Math.imul(h ^ Math.floor(us / 4294967296), 0x01000193);
    h = Math.imul(h ^ node, 0x01000193);
    h = Math.imul(h ^ kind, 0x01000193);
    h = Math.imul(h ^ size, 0x01000193);
    this.h = h;
    this.events++;
  }

  /** The hash as 8 hex digits. */
  hex(): string {
    return (this.h >>> 0).toString(16).padStart(8, '0');
  }
}
