import type { Logger } from 'pino';
import { Alarm } from '../../core/alarm.ts';
import type { Clock, TimerHandle } from '../../core/clock.ts';
import { errorMessage } from '../../core/errors.ts';
import type { JobRecord } from '../../core/job.ts';
import type { PeerIdStr } from '../../core/transport.ts';
import { isReplicated, sameHolders, type FenceNotice } from '../../placement/recovery/index.ts';
import { MAX_RECORDS_PER_PUSH, type RecoveryClient } from './protocol.ts';

/**
 * The owner side of replication: keeps each replica holder (the host's k ring successors) up
 * to date with this host's live job records. A change is pushed as a delta (coalesced over a
 * few ms); a new holder gets a full sync; a holder dropped from the set is told to forget. A
 * failed push is retried with back-off; deltas are upserts, so a retry is harmless. Holders
 * answer with fence notices for copies replaced while this host was away.
 */

export interface ReplicatorOptions {
  /** Changes within this window go out in one push. */
  coalesceMs: number;
  /** First retry delay after a failed push; doubles up to `retryMaxMs`. */
  retryInitialMs: number;
  retryMaxMs: number;
  /** How long `confirm` waits for the holders before it gives up (the admission is answered anyway). */
  confirmTimeoutMs: number;
}

export const defaultReplicatorOptions: ReplicatorOptions = {
  coalesceMs: 20, // ms: a job's placed → starting → running burst goes out as one or two pushes
  retryInitialMs: 1_000, // ms: a holder that just restarted is back within a second or two
  retryMaxMs: 30_000, // ms: a holder down for long is replaced by the ring anyway once it is declared failed
  confirmTimeoutMs: 1_000, // ms: half the owner's 2-s admission ask (the evacuator's is 5 s)
};

export interface ReplicatorModules {
  self: PeerIdStr;
  clock: Clock;
  client: Pick<RecoveryClient, 'push' | 'forget'>;
  /** This host's records (every state; the replicator picks the live ones it owns). */
  records: () => Iterable<JobRecord>;
  /** The current holders of this host, in ring order. */
  holders: () => PeerIdStr[];
  onFence: (notices: FenceNotice[], from: PeerIdStr) => void;
  onPush: ((result: 'ok' | 'failed') => void) | null;
  logger: Logger;
}

interface HolderState {
  readonly peer: PeerIdStr;
  /** What the holder has acknowledged, record by record (records are immutable: identity is version). */
  readonly acked: Map<string, JobRecord>;
  synced: boolean;
  busy: boolean;
  failures: number;
  retryAtMs: number;
}

/** An admission waiting until its record is on the holders. */
interface Confirmation {
  readonly jobId: string;
  readonly epoch: number;
  readonly done: (confirmed: boolean) => void;
  readonly timer: TimerHandle;
}

export class Replicator {
  private readonly opts: ReplicatorOptions;
  private readonly m: ReplicatorModules;
  private readonly states = new Map<PeerIdStr, HolderState>();
  private holderList: PeerIdStr[] = [];
  private readonly alarm: Alarm;
  private running = false;
  private readonly confirmations = new Set<Confirmation>();

  constructor(opts: ReplicatorOptions, modules: ReplicatorModules) {
    this.opts = opts;
    this.m = modules;
    this.alarm = new Alarm(modules.clock, () => this.flush());
  }

  start(): void {
    this.running = true;
    this.schedule(0);
  }

  stop(): void {
    this.running = false;
    this.alarm.cancel();
    for (const c of this.confirmations) this.finish(c, false);
  }

  /** Records changed: push soon. */
  changed(): void {
    this.schedule(this.opts.coalesceMs);
  }

  /**
   * Pushes now, and resolves once every holder has acknowledged the job's record at `epoch` or
   * later (true), or at the timeout (false). A holder whose pushes fail does not hold it up: the
   * ring replaces a failed holder. With no holders (a host alone) there is nothing to wait for.
   */
  confirm(jobId: string, epoch: number): Promise<boolean> {
    if (!this.running) return Promise.resolve(false);
    return new Promise((done) => {
      const timeout = (): void => {
        this.m.logger.warn({ jobId, epoch, timeoutMs: this.opts.confirmTimeoutMs }, 'replica holders did not confirm an admitted job in time; answering anyway');
        this.finish(c, false);
      };
      const c: Confirmation = { jobId, epoch, done, timer: this.m.clock.schedule(this.opts.confirmTimeoutMs, timeout) };
      this.confirmations.add(c);
      this.schedule(0);
    });
  }

  /** The view changed (a member came, went or was suspected): recompute holders soon. */
  viewChanged(): void {
    this.schedule(this.opts.coalesceMs);
  }

  get holders(): readonly PeerIdStr[] {
    return this.holderList;
  }

  /** Holders with everything acknowledged. */
  status(): { holders: PeerIdStr[]; synced: PeerIdStr[]; pending: PeerIdStr[] } {
    const synced: PeerIdStr[] = [];
    const pending: PeerIdStr[] = [];
    for (const s of this.states.values()) (s.synced && s.failures === 0 && !s.busy ? synced : pending).push(s.peer);
    return { holders: [...this.holderList], synced, pending };
  }

  private schedule(delayMs: number): void {
    if (this.running) this.alarm.setWithin(delayMs);
  }

  private flush(): void {
    if (!this.running) return;
    const holders = this.m.holders();
    if (!sameHolders(holders, this.holderList)) {
      for (const [peer, s] of this.states) {
        if (holders.includes(peer)) continue;
        this.states.delete(peer);
        if (!s.busy) void this.m.client.forget(peer).catch(() => undefined);
      }
      for (const peer of holders) {
        if (!this.states.has(peer)) this.states.set(peer, { peer, acked: new Map(), synced: false, busy: false, failures: 0, retryAtMs: 0 });
      }
      this.holderList = holders;
      this.m.logger.debug({ holders }, 'replica holders changed');
    }
    const live = new Map<string, JobRecord>();
    for (const r of this.m.records()) if (isReplicated(r, this.m.self)) live.set(r.id, r);
    const now = this.m.clock.now();
    let retryIn = Infinity;
    for (const s of this.states.values()) {
      if (s.busy) continue;
      if (s.retryAtMs > now) {
        retryIn = Math.min(retryIn, s.retryAtMs - now);
        continue;
      }
      if (!s.synced || this.hasDelta(s, live)) void this.pushTo(s, live);
    }
    if (retryIn !== Infinity) this.schedule(retryIn);
    this.settleConfirmations();
  }

  private settleConfirmations(): void {
    for (const c of this.confirmations) {
      let held = true;
      for (const s of this.states.values()) if (s.failures === 0 && (s.acked.get(c.jobId)?.epoch ?? -1) < c.epoch) held = false;
      if (held) this.finish(c, true);
    }
  }

  private finish(c: Confirmation, confirmed: boolean): void {
    if (!this.confirmations.delete(c)) return;
    c.timer.cancel();
    c.done(confirmed);
  }

  private hasDelta(s: HolderState, live: Map<string, JobRecord>): boolean {
    if (s.acked.size !== live.size) return true;
    for (const [id, r] of live) if (s.acked.get(id) !== r) return true;
    return false;
  }

  private async pushTo(s: HolderState, live: Map<string, JobRecord>): Promise<void> {
    s.busy = true;
    const full = !s.synced;
    const upserts = full ? [...live.values()] : [...live.values()].filter((r) => s.acked.get(r.id) !== r);
    const removed = full ? [] : [...s.acked.keys()].filter((id) => !live.has(id));
    try {
      for (let i = 0; i === 0 || i < upserts.length; i += MAX_RECORDS_PER_PUSH) {
        const chunk = upserts.slice(i, i + MAX_RECORDS_PER_PUSH);
        const last = i + MAX_RECORDS_PER_PUSH >= upserts.length;
        const notices = await this.m.client.push(s.peer, {
          op: 'push',
          holders: [...this.holderList],
          records: chunk,
          removed: last ? removed : [],
          ...(full && last ? { ids: [...live.keys()] } : {}),
        });
        for (const r of chunk) s.acked.set(r.id, r);
        if (notices.length > 0) this.m.onFence(notices, s.peer);
      }
      for (const id of removed) s.acked.delete(id);
      if (full) {
        for (const id of [...s.acked.keys()]) if (!live.has(id)) s.acked.delete(id);
        s.synced = true;
      }
      s.failures = 0;
      s.retryAtMs = 0;
      this.m.onPush?.('ok');
    } catch (err) {
      s.failures++;
      const delay = Math.min(this.opts.retryMaxMs, this.opts.retryInitialMs * 2 ** Math.min(10, s.failures - 1));
      s.retryAtMs = this.m.clock.now() + delay;
      this.m.onPush?.('failed');
      this.m.logger.debug({ holder: s.peer, err: errorMessage(err), retryInMs: delay }, 'replica push failed');
    } finally {
      s.busy = false;
    }
    this.settleConfirmations();
    if (this.states.get(s.peer) !== s) {
      // Dropped from the holder set while this push was out.
      void this.m.client.forget(s.peer).catch(() => undefined);
      return;
    }
    // Whatever changed while this push was out goes next (or the retry comes due).
    this.schedule(s.retryAtMs > 0 ? Math.max(0, s.retryAtMs - this.m.clock.now()) : 0);
  }
}
