import type { Millis } from '../core/clock.ts';
import type { PeerIdStr } from '../core/transport.ts';
import type { Store, Sublevel } from './store.ts';

export interface CachedPeer {
  readonly peer: PeerIdStr;
  readonly addrs: readonly string[];
  readonly seenAtMs: Millis;
}

export interface PeerCacheOptions {
  /** Peers kept; a restarted agent needs only a few live ones to rejoin. */
  maxPeers: number;
}

export const defaultPeerCacheOptions: PeerCacheOptions = { maxPeers: 64 };

/**
 * Peers this agent has talked to, so a restarted agent rejoins without its bootstrap list.
 * Writes are not synced: losing the last few entries on power loss costs nothing.
 */
export class PeerCache {
  private readonly peers: Sublevel;
  private readonly opts: PeerCacheOptions;

  constructor(opts: PeerCacheOptions, store: Store) {
    this.opts = opts;
    this.peers = store.sublevel('peers');
  }

  /** Most recently seen first. */
  async list(): Promise<CachedPeer[]> {
    const out: CachedPeer[] = [];
    for await (const value of this.peers.values()) out.push(value as CachedPeer);
    return out.sort((a, b) => b.seenAtMs - a.seenAtMs);
  }

  /** Replaces the cache with the freshest `maxPeers` of what is known and `seen`. */
  async remember(seen: readonly CachedPeer[]): Promise<void> {
    const merged = new Map<PeerIdStr, CachedPeer>();
    for (const p of [...(await this.list()), ...seen]) {
      const prev = merged.get(p.peer);
      if (!prev || prev.seenAtMs <= p.seenAtMs) merged.set(p.peer, p);
    }
    const keep = [...merged.values()].sort((a, b) => b.seenAtMs - a.seenAtMs).slice(0, this.opts.maxPeers);
    const keepIds = new Set(keep.map((p) => p.peer));
    const batch = this.peers.batch();
    for (const p of merged.values()) if (!keepIds.has(p.peer)) batch.del(p.peer);
    for (const p of keep) batch.put(p.peer, p);
    await batch.write();
  }
}
