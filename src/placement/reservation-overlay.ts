import type { Millis } from '../core/clock.ts';
import type { Resources } from '../core/resources.ts';
import type { PeerIdStr } from '../core/transport.ts';

interface OverlayEntry {
  free: Resources;
  groups: string[] | null;
  untilMs: Millis;
  /** Memo of the last min(advertised, free), keyed by the advertised object (records are immutable). */
  advertised: Resources | null;
  merged: Resources | null;
}

/**
 * What this node learned from admission answers and gossip has not carried yet. Without it a
 * coordinator would pick the host it just filled again until the host's next record arrives,
 * and earn a rejection. The overlay only ever lowers free capacity (per-axis minimum of the
 * two observations), so it can cost a slightly worse choice, never an overcommit: the host's
 * ledger remains the authority.
 */
export class ReservationOverlay {
  private readonly entries = new Map<PeerIdStr, OverlayEntry>();
  private readonly ttlMs: Millis;
  private readonly maxEntries: number;

  constructor(opts: { overlayTtlMs: Millis; maxOverlayEntries: number }) {
    this.ttlMs = opts.overlayTtlMs;
    this.maxEntries = opts.maxOverlayEntries;
  }

  get size(): number {
    return this.entries.size;
  }

  /** The host answered with its free capacity (after our reservation, or when rejecting). */
  note(peer: PeerIdStr, free: Resources, group: string | undefined, now: Millis): void {
    if (this.ttlMs <= 0) return;
    const old = this.entries.get(peer);
    let groups: string[] | null = null;
    if (old !== undefined) {
      this.entries.delete(peer);
      if (old.untilMs > now) groups = old.groups;
    }
    if (group !== undefined) {
      if (groups === null) groups = [group];
      else if (!groups.includes(group)) groups.push(group);
    }
    this.entries.set(peer, { free, groups, untilMs: now + this.ttlMs, advertised: null, merged: null });
    this.prune(now);
  }

  /** Free capacity to plan with: the advertised value, lowered by a fresher answer if we have one. */
  freeOf(peer: PeerIdStr, advertised: Resources, now: Millis): Resources {
    if (this.entries.size === 0) return advertised;
    const e = this.entries.get(peer);
    if (e === undefined) return advertised;
    if (e.untilMs <= now) {
      this.entries.delete(peer);
      return advertised;
    }
    if (e.advertised !== advertised || e.merged === null) {
      e.advertised = advertised;
      e.merged =
        advertised.vcpus <= e.free.vcpus && advertised.memoryMiB <= e.free.memoryMiB && advertised.diskGiB <= e.free.diskGiB
          ? advertised
          : {
              vcpus: Math.min(advertised.vcpus, e.free.vcpus),
              memoryMiB: Math.min(advertised.memoryMiB, e.free.memoryMiB),
              diskGiB: Math.min(advertised.diskGiB, e.free.diskGiB),
            };
    }
    return e.merged;
  }

  /** True when we placed a job of this anti-affinity group there recently. */
  hasGroup(peer: PeerIdStr, group: string, now: Millis): boolean {
    if (this.entries.size === 0) return false;
    const e = this.entries.get(peer);
    return e !== undefined && e.untilMs > now && e.groups !== null && e.groups.includes(group);
  }

  clear(): void {
    this.entries.clear();
  }

  /** Entries are in insertion order and share one TTL, so the expired ones are at the front. */
  private prune(now: Millis): void {
    for (const [peer, e] of this.entries) {
      if (e.untilMs > now && this.entries.size <= this.maxEntries) break;
      this.entries.delete(peer);
    }
  }
}
