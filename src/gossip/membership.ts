import type { Millis } from '../core/clock.ts';
import { hash32 } from '../core/hash.ts';
import type { Rng } from '../core/rng.ts';
import type { PeerIdStr } from '../core/transport.ts';
import type { HostRecord, MemberStatus, MemberView } from './records.ts';
import { recordDiffers } from './self-record.ts';
import { suspicionTimeoutMs } from './suspicion.ts';

/**
 * The node's own cell, in full: every member's latest record and this node's opinion of
 * it (SWIM states), the cell's hash ring, and the roles derived from it. Pure state
 * machine; GossipNode feeds it and publishes what it decides.
 *
 * Precedence (SWIM, by incarnation i of the news and j of the current status):
 *   alive(i)   beats suspect(j), failed(j), left(j) when i > j
 *   suspect(i) beats alive(j) when i ≥ j, suspect(j) when i > j
 *   failed(i)  beats alive(j), suspect(j) when i ≥ j
 *   left(i)    beats alive(j), suspect(j), failed(j) when i ≥ j
 */

export interface MemberEvent {
  readonly peer: PeerIdStr;
  readonly status: MemberStatus;
  /** null when the member was not known before. */
  readonly previous: MemberStatus | null;
  readonly incarnation: number;
  readonly atMs: Millis;
}

export type MemberListener = (ev: MemberEvent) => void;

class MemberState {
  record: HostRecord;
  status: MemberStatus = 'alive';
  statusIncarnation: number;
  updatedAtMs: Millis;
  readonly hash: number;
  view: MemberView;
  suspectSinceMs: Millis = 0;
  confirmations = 0;
  /** Suspicion deadline (suspect) or removal time (failed/left); Infinity otherwise. */
  deadlineMs: Millis = Infinity;
  /** This member's current term in Membership's view hash. */
  hashTerm = 0;

  constructor(record: HostRecord, now: Millis) {
    this.record = record;
    this.statusIncarnation = record.incarnation;
    this.updatedAtMs = now;
    this.hash = hash32(record.origin);
    this.view = { record, status: 'alive', updatedAtMs: now };
  }

  refreshView(): void {
    this.view = { record: this.record, status: this.status, updatedAtMs: this.updatedAtMs };
  }
}

function newer(a: HostRecord, b: HostRecord): boolean {
  return a.incarnation > b.incarnation || (a.incarnation === b.incarnation && a.seq > b.seq);
}

/**
 * Whether `b` states new facts against `a`: a host re-announces an unchanged record every
 * heartbeat with only a new seq, and nothing derived from the view (the cell's summary)
 * needs recomputing for that. The same test the host itself uses to tell a heartbeat from news.
 */
function newFacts(a: HostRecord, b: HostRecord): boolean {
  return a.incarnation !== b.incarnation || recordDiffers(a, b);
}

export type ApplyResult = 'new' | 'updated' | 'revived' | 'stale' | 'self-refute';

export interface MembershipOptions {
  readonly suspicionMinMs: number;
  readonly suspicionMaxMs: number;
  /** Independent accusers expected beyond the first (monitors − 1), for Lifeguard's formula. */
  readonly expectedConfirmations: number;
  readonly failedRetentionMs: number;
}

export class Membership {
  private readonly opts: MembershipOptions;
  readonly self: PeerIdStr;
  private readonly members = new Map<PeerIdStr, MemberState>();
  /** What readers see: the same keys, immutable MemberView values. */
  private readonly views = new Map<PeerIdStr, MemberView>();
  /** Alive and suspect members including self, by hash then id. Rebuilt when that set changes. */
  private ring: MemberState[] = [];
  private ringDirty = true;
  private nextDeadline = Infinity;
  private deadlineDirty = false;
  private readonly listeners: MemberListener[] = [];
  /** Bumped whenever the ring's member set changes, so callers can cache derived roles. */
  ringVersion = 0;
  /** Bumped when a member comes, goes, changes status or states new facts (not on a re-announcement): the reporter recomputes its summary only then. */
  version = 0;
  private successorsCache: readonly PeerIdStr[] = [];
  private successorsFor = -1;
  /** Bumped on any status change or ring rebuild (successors skip suspects, so the ring version alone is not enough). */
  private statusEpoch = 0;
  private successorsK = 0;
  /**
   * Order-independent hash of the view's versions: Σ hash32(origin|incarnation|seq|status|
   * statusIncarnation) mod 2^32, kept incrementally. Two members with equal hashes hold the
   * same versions, so anti-entropy can skip sending 48 records that would change nothing.
   */
  private hashSum = 0;
  suspicions = 0;
  refutations = 0;
  failures = 0;

  constructor(opts: MembershipOptions, self: HostRecord, now: Millis) {
    this.opts = opts;
    this.self = self.origin;
    this.add(new MemberState(self, now));
  }

  onEvent(listener: MemberListener): void {
    this.listeners.push(listener);
  }

  private emit(m: MemberState, previous: MemberStatus | null, now: Millis): void {
    if (this.listeners.length === 0) return;
    const ev: MemberEvent = { peer: m.record.origin, status: m.status, previous, incarnation: m.statusIncarnation, atMs: now };
    for (const l of this.listeners) l(ev);
  }

  private term(m: MemberState): number {
    return hash32(`${m.record.origin}|${m.record.incarnation}|${m.record.seq}|${m.status}|${m.statusIncarnation}`);
  }

  /** See hashSum. */
  get viewHash(): number {
    return this.hashSum >>> 0;
  }

  private add(m: MemberState): void {
    m.hashTerm = this.term(m);
    this.hashSum = (this.hashSum + m.hashTerm) | 0;
    this.version++;
    this.members.set(m.record.origin, m);
    this.views.set(m.record.origin, m.view);
    this.ringDirty = true;
  }

  private touch(m: MemberState, now: Millis, factsChanged = true): void {
    const t = this.term(m);
    this.hashSum = (this.hashSum - m.hashTerm + t) | 0;
    m.hashTerm = t;
    if (factsChanged) this.version++;
    m.updatedAtMs = now;
    m.refreshView();
    this.views.set(m.record.origin, m.view);
  }

  private setStatus(m: MemberState, status: MemberStatus, incarnation: number, now: Millis): void {
    this.statusEpoch++;
    const previous = m.status;
    const wasInRing = previous === 'alive' || previous === 'suspect';
    m.status = status;
    m.statusIncarnation = incarnation;
    if (status === 'suspect') {
      m.suspectSinceMs = now;
      m.confirmations = 0;
      m.deadlineMs = now + suspicionTimeoutMs(this.opts.suspicionMinMs, this.opts.suspicionMaxMs, 0, this.opts.expectedConfirmations);
      this.suspicions++;
    } else if (status === 'failed' || status === 'left') {
      m.deadlineMs = now + this.opts.failedRetentionMs;
      if (status === 'failed') this.failures++;
    } else {
      m.deadlineMs = Infinity;
      if (previous === 'suspect') this.refutations++;
    }
    this.deadlineDirty = true;
    const inRing = status === 'alive' || status === 'suspect';
    if (wasInRing !== inRing) this.ringDirty = true;
    this.touch(m, now);
    if (previous !== status) this.emit(m, previous, now);
  }

  get(peer: PeerIdStr): MemberView | undefined {
    return this.views.get(peer);
  }

  /** Every member including self, as immutable views. Read-only: never mutate, never hold across handler calls expecting it to stay. */
  viewMap(): ReadonlyMap<PeerIdStr, MemberView> {
    return this.views;
  }

  get size(): number {
    return this.members.size;
  }

  statusOf(peer: PeerIdStr): MemberStatus | undefined {
    return this.members.get(peer)?.status;
  }

  statusIncarnationOf(peer: PeerIdStr): number {
    return this.members.get(peer)?.statusIncarnation ?? -1;
  }

  /** Alive + suspect members, including self. */
  get liveCount(): number {
    return this.ringMembers().length;
  }

  /** Replace own record (a new draft or a refutation); self is always alive in its own view. */
  setSelf(record: HostRecord, now: Millis): void {
    const m = this.members.get(this.self)!;
    const factsChanged = newFacts(m.record, record);
    m.record = record;
    m.statusIncarnation = record.incarnation;
    this.touch(m, now, factsChanged);
  }

  /** A record from the topic, a sync, or a push. */
  applyRecord(record: HostRecord, now: Millis): ApplyResult {
    if (record.origin === this.self) return 'stale';
    const m = this.members.get(record.origin);
    if (!m) {
      const fresh = new MemberState(record, now);
      this.add(fresh);
      this.emit(fresh, null, now);
      return 'new';
    }
    if (!newer(record, m.record)) return 'stale';
    if (m.status === 'alive') {
      const factsChanged = newFacts(m.record, record);
      m.record = record;
      m.statusIncarnation = record.incarnation;
      this.touch(m, now, factsChanged);
      return 'updated';
    }
    if (record.incarnation > m.statusIncarnation) {
      m.record = record;
      this.setStatus(m, 'alive', record.incarnation, now);
      return 'revived';
    }
    if (m.status === 'suspect') {
      // Same incarnation, newer seq: fresher facts, but not a refutation.
      const factsChanged = newFacts(m.record, record);
      m.record = record;
      this.touch(m, now, factsChanged);
      return 'updated';
    }
    return 'stale'; // failed/left at this incarnation: a late copy from before the end
  }

  /** A record with a status, from a sync response. Applies the record, then the status by the same precedence rules. */
  applySynced(record: HostRecord, status: MemberStatus, statusIncarnation: number, now: Millis): ApplyResult {
    const r = this.applyRecord(record, now);
    if (status === 'alive' || record.origin === this.self) return r;
    const s = this.applyStatus(record.origin, status, statusIncarnation, 0, now);
    return s === 'stale' ? r : s;
  }

  /**
   * News that a member is suspect, failed or left. Returns 'self-refute' when the news is
   * about this node at its current incarnation or later: the caller must bump its
   * incarnation and republish.
   */
  applyStatus(peer: PeerIdStr, status: 'suspect' | 'failed' | 'left', incarnation: number, confirmations: number, now: Millis): ApplyResult {
    const m = this.members.get(peer);
    if (!m) return 'stale';
    if (peer === this.self) {
      return status !== 'left' && incarnation >= m.record.incarnation ? 'self-refute' : 'stale';
    }
    const j = m.statusIncarnation;
    switch (status) {
      case 'suspect':
        if (m.status === 'alive' && incarnation >= j) {
          this.setStatus(m, 'suspect', incarnation, now);
          this.confirm(m, confirmations);
          return 'updated';
        }
        if (m.status === 'suspect' && incarnation > j) {
          this.setStatus(m, 'suspect', incarnation, now);
          this.confirm(m, confirmations);
          return 'updated';
        }
        if (m.status === 'suspect' && incarnation === j && confirmations > m.confirmations) {
          this.confirm(m, confirmations);
          return 'updated';
        }
        return 'stale';
      case 'failed':
        if ((m.status === 'alive' || m.status === 'suspect') && incarnation >= j) {
          this.setStatus(m, 'failed', incarnation, now);
          return 'updated';
        }
        return 'stale';
      case 'left':
        if (m.status !== 'left' && incarnation >= j) {
          this.setStatus(m, 'left', incarnation, now);
          return 'updated';
        }
        return 'stale';
    }
  }

  /** Another independent accuser: the suspicion timeout shrinks (never grows). */
  private confirm(m: MemberState, confirmations: number): void {
    if (confirmations <= m.confirmations) return;
    m.confirmations = confirmations;
    const t = suspicionTimeoutMs(this.opts.suspicionMinMs, this.opts.suspicionMaxMs, confirmations, this.opts.expectedConfirmations);
    const deadline = m.suspectSinceMs + t;
    if (deadline < m.deadlineMs) {
      m.deadlineMs = deadline;
      this.deadlineDirty = true;
    }
  }

  confirmationsOf(peer: PeerIdStr): number {
    return this.members.get(peer)?.confirmations ?? 0;
  }

  /** Suspicions that timed out become failures; failed and left members past retention are dropped. Returns the newly failed. */
  tick(now: Millis): PeerIdStr[] | null {
    if (this.deadlineDirty) this.recomputeDeadline();
    if (this.nextDeadline > now) return null;
    let failed: PeerIdStr[] | null = null;
    for (const m of this.members.values()) {
      if (m.deadlineMs > now) continue;
      if (m.status === 'suspect') {
        this.setStatus(m, 'failed', m.statusIncarnation, now);
        (failed ??= []).push(m.record.origin);
      } else if (m.status === 'failed' || m.status === 'left') {
        this.remove(m.record.origin);
      }
    }
    this.recomputeDeadline();
    return failed;
  }

  /** Drops a member without an event (retention over, or it belongs to another cell after a split). */
  remove(peer: PeerIdStr): void {
    const m = this.members.get(peer);
    if (!m || peer === this.self) return;
    this.members.delete(peer);
    this.views.delete(peer);
    this.hashSum = (this.hashSum - m.hashTerm) | 0;
    this.version++;
    if (m.status === 'alive' || m.status === 'suspect') this.ringDirty = true;
    this.deadlineDirty = true;
  }

  /** Keeps only members for which `keep` is true (after a split). */
  retain(keep: (peer: PeerIdStr) => boolean): PeerIdStr[] {
    const dropped: PeerIdStr[] = [];
    for (const peer of this.members.keys()) if (peer !== this.self && !keep(peer)) dropped.push(peer);
    for (const peer of dropped) this.remove(peer);
    return dropped;
  }

  private recomputeDeadline(): void {
    let min = Infinity;
    for (const m of this.members.values()) if (m.deadlineMs < min) min = m.deadlineMs;
    this.nextDeadline = min;
    this.deadlineDirty = false;
  }

  nextTimerAtMs(): Millis {
    if (this.deadlineDirty) this.recomputeDeadline();
    return this.nextDeadline;
  }

  // --- the ring and the roles derived from it --------------------------------------------

  private ringMembers(): MemberState[] {
    if (this.ringDirty) {
      const ring: MemberState[] = [];
      for (const m of this.members.values()) if (m.status === 'alive' || m.status === 'suspect') ring.push(m);
      ring.sort((a, b) => a.hash - b.hash || (a.record.origin < b.record.origin ? -1 : a.record.origin > b.record.origin ? 1 : 0));
      this.ring = ring;
      this.ringDirty = false;
      this.ringVersion++;
      this.statusEpoch++;
    }
    return this.ring;
  }

  /** Ensures derived state is current; returns ringVersion. */
  syncRing(): number {
    this.ringMembers();
    return this.ringVersion;
  }

  /**
   * The `k` alive members after self on the ring: the ones this node probes. Suspects are
   * skipped (their fate is already being decided), so when a neighbour dies the next one
   * gets a live monitor at the next round instead of after the suspicion times out: in a
   * correlated failure, runs of dead neighbours are found in a few rounds, not one per run.
   */
  successors(k: number): readonly PeerIdStr[] {
    const ring = this.ringMembers();
    // Cached per ring version: the failure detector asks every probe round.
    if (this.successorsFor === this.statusEpoch && this.successorsK === k) return this.successorsCache;
    const out: PeerIdStr[] = [];
    const n = ring.length;
    let i = 0;
    while (i < n && ring[i]!.record.origin !== this.self) i++;
    for (let step = 1; step < n && out.length < k; step++) {
      const m = ring[(i + step) % n]!;
      if (m.status === 'alive') out.push(m.record.origin);
    }
    this.successorsCache = out;
    this.successorsFor = this.statusEpoch;
    this.successorsK = k;
    return out;
  }

  /**
   * The first `k` alive members by hash (suspects skipped), optionally skipping one peer.
   * Rank 0 is the cell's reporter and event aggregator; ranks below districtDelegates are
   * its delegates; the first few are its contacts.
   */
  lowest(k: number, skip: PeerIdStr | null = null, placeableOnly = false): MemberView[] {
    const out: MemberView[] = [];
    for (const m of this.ringMembers()) {
      if (out.length >= k) break;
      if (m.status !== 'alive' || m.record.origin === skip) continue;
      if (placeableOnly && (m.record.health !== 'ok' || m.record.draining)) continue;
      out.push(m.view);
    }
    return out;
  }

  /** This node's rank among alive members by hash (0 = reporter), or Infinity if it is not among the first `limit`. */
  selfRank(limit: number): number {
    let rank = 0;
    for (const m of this.ringMembers()) {
      if (rank >= limit) break;
      if (m.status !== 'alive') continue;
      if (m.record.origin === this.self) return rank;
      rank++;
    }
    return Infinity;
  }

  /** Up to `k` random alive members other than self and `exclude`. */
  randomAlive(k: number, exclude: PeerIdStr | null, rng: Rng): PeerIdStr[] {
    const ring = this.ringMembers();
    const out: PeerIdStr[] = [];
    const n = ring.length;
    if (n === 0 || k <= 0) return out;
    // Bounded random draws (O(k), no copy of the ring); a small cell may yield fewer than k.
    for (let tries = 0; tries < 4 * k + 4 && out.length < k; tries++) {
      const m = ring[rng.int(n)]!;
      const id = m.record.origin;
      if (m.status !== 'alive' || id === this.self || id === exclude || out.includes(id)) continue;
      out.push(id);
    }
    return out;
  }

  /** A random member held failed (not left: a leave is final), or undefined. O(members). */
  randomFailed(rng: Rng): MemberState['record'] | undefined {
    let n = 0;
    for (const m of this.members.values()) if (m.status === 'failed') n++;
    if (n === 0) return undefined;
    let k = rng.int(n);
    for (const m of this.members.values()) if (m.status === 'failed' && k-- === 0) return m.record;
    return undefined;
  }

  /** Age of the least recently refreshed live member's information. */
  oldestUpdateMs(now: Millis): number {
    let oldest = now;
    for (const m of this.members.values()) if (m.record.origin !== this.self && m.status === 'alive' && m.updatedAtMs < oldest) oldest = m.updatedAtMs;
    return now - oldest;
  }

  /** Members for a sync response: live ones first, then failed/left (so newcomers learn both). */
  forSync(limit: number): { record: HostRecord; status: MemberStatus; statusIncarnation: number }[] {
    const out: { record: HostRecord; status: MemberStatus; statusIncarnation: number }[] = [];
    for (const m of this.members.values()) {
      if (out.length >= limit) break;
      out.push({ record: m.record, status: m.status, statusIncarnation: m.statusIncarnation });
    }
    return out;
  }
}
