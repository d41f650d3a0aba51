import type { JobSpec } from '../../../src/core/job.ts';
import type { Resources } from '../../../src/core/resources.ts';
import { SeededRng, type Rng } from '../../../src/core/rng.ts';
import type { PeerIdStr } from '../../../src/core/transport.ts';
import type { CellSummary, HostRecord, MemberView } from '../../../src/gossip/records.ts';
import {
  DeadlineQueue,
  HostLedger,
  LedgerAdmission,
  PlacementNode,
  StaticPlacementView,
  decodePlacementMessage,
  encodePlacementMessage,
  placementOptions,
  type AdmitRequest,
  type BindingPersistence,
  type AdmitResult,
  type LocateOutcome,
  type PlacementMessage,
  type PlacementOptions,
  type ReplaceTarget,
  type SubmitOutcome,
} from '../../../src/placement/index.ts';
import { summarize } from './fixtures.ts';

/**
 * A few dozen placement nodes in one process: real PlacementNodes and HostLedgers, fake
 * gossip views rebuilt from the ledgers every `viewRefreshMs` (so views are stale in
 * between, as in a real cluster), virtual time, and every message encoded and decoded by
 * the real codec on its way. Deterministic from its seed.
 */
export interface HarnessOptions {
  readonly hosts: number;
  readonly cellBits: number;
  readonly seed: number;
  readonly capacity?: (i: number) => Resources;
  readonly zone?: (i: number) => string;
  /** One-way latency, ms, plus up to 50% jitter. */
  readonly latencyMs?: number;
  readonly viewRefreshMs?: number;
  /** Time after a crash until views mark the host failed. */
  readonly detectMs?: number;
  readonly placement?: Partial<PlacementOptions>;
  /** Hosts that run no jobs (no HostAdmission). */
  readonly nonHost?: (i: number) => boolean;
  readonly bindings?: (i: number) => BindingPersistence | null;
}

export interface HarnessHost {
  readonly index: number;
  readonly peer: PeerIdStr;
  readonly cell: number;
  readonly ledger: HostLedger;
  readonly node: PlacementNode;
  readonly view: StaticPlacementView;
  timerAtMs: number;
  downSinceMs: number | null;
  /** Admissions reserve, then the host dies before answering (the ledger keeps the reservation). */
  crashOnAdmit: boolean;
}

export class PlacementHarness {
  now = 0;
  readonly hosts: HarnessHost[] = [];
  readonly byPeer = new Map<PeerIdStr, HarnessHost>();
  readonly opts: PlacementOptions;
  readonly rng: Rng;
  messages = 0;
  bytes = 0;
  private readonly events = new DeadlineQueue<() => void>();
  private readonly latencyMs: number;
  private readonly viewRefreshMs: number;
  private readonly detectMs: number;
  private readonly cellBits: number;
  private seq = 1;
  /** Extra delay for a message, or null to drop it. */
  intercept: ((from: PeerIdStr, to: PeerIdStr, msg: PlacementMessage) => number | null) | null = null;

  constructor(o: HarnessOptions) {
    this.rng = new SeededRng(o.seed);
    this.opts = placementOptions(o.placement ?? {});
    this.latencyMs = o.latencyMs ?? 1;
    this.viewRefreshMs = o.viewRefreshMs ?? 200;
    this.detectMs = o.detectMs ?? 2000;
    this.cellBits = o.cellBits;
    const cells = 2 ** o.cellBits;
    for (let i = 0; i < o.hosts; i++) {
      const peer = `node-${String(i).padStart(3, '0')}`;
      const cell = i % cells;
      const ledger = new HostLedger({
        cluster: 'default',
        zone: o.zone?.(i) ?? 'a',
        labels: { rack: `r${i % 4}` },
        drivers: ['qemu', 'process', 'fake'],
        capacity: o.capacity?.(i) ?? { vcpus: 16, memoryMiB: 65536, diskGiB: 500 },
        health: 'ok',
        draining: false,
      });
      const view = new StaticPlacementView({ self: peer, ownCell: cell, cellBits: o.cellBits });
      const host: HarnessHost = {
        index: i,
        peer,
        cell,
        ledger,
        view,
        timerAtMs: Infinity,
        downSinceMs: null,
        crashOnAdmit: false,
        node: undefined as unknown as PlacementNode,
      };
      const admission = new LedgerAdmission({
        admit: (req: AdmitRequest): AdmitResult => {
          const r = ledger.admit(req);
          if (host.crashOnAdmit) this.crash(host);
          return r;
        },
        release: (jobId: string, epoch?: number) => ledger.release(jobId, epoch),
      });
      (host as { node: PlacementNode }).node = new PlacementNode(this.opts, {
        view,
        rng: this.rng.fork(peer),
        outbox: { send: (to, msg) => this.send(host, to, msg) },
        admission: o.nonHost?.(i) ? null : admission,
        bindings: o.bindings?.(i) ?? null,
        metrics: null,
      });
      this.hosts.push(host);
      this.byPeer.set(peer, host);
    }
    this.refreshViews();
    this.scheduleRefresh();
  }

  /** Entry `i` submits; the outcome lands in the returned holder. */
  submit(i: number, spec: JobSpec): { outcome: SubmitOutcome | null; calls: number; atMs: number; doneAtMs: number } {
    const holder = { outcome: null as SubmitOutcome | null, calls: 0, atMs: this.now, doneAtMs: -1 };
    const h = this.hosts[i]!;
    h.node.submit(spec, this.now, (o) => {
      holder.outcome = o;
      holder.calls++;
      holder.doneAtMs = this.now;
    });
    this.touch(h);
    return holder;
  }

  /** Entry `i` asks the key owner to move a job off `target.fromHost` (recovery). */
  replace(i: number, spec: JobSpec, target: ReplaceTarget): { outcome: SubmitOutcome | null; calls: number; atMs: number; doneAtMs: number } {
    const holder = { outcome: null as SubmitOutcome | null, calls: 0, atMs: this.now, doneAtMs: -1 };
    const h = this.hosts[i]!;
    h.node.replace(spec, target, this.now, (o) => {
      holder.outcome = o;
      holder.calls++;
      holder.doneAtMs = this.now;
    });
    this.touch(h);
    return holder;
  }

  locate(i: number, jobId: string): { outcome: LocateOutcome | null } {
    const holder = { outcome: null as LocateOutcome | null };
    const h = this.hosts[i]!;
    h.node.locate(jobId, this.now, (o) => {
      holder.outcome = o;
    });
    this.touch(h);
    return holder;
  }

  crash(h: HarnessHost): void {
    if (h.downSinceMs === null) h.downSinceMs = this.now;
  }

  /** Runs events in time order until `pred` holds or `maxMs` of virtual time pass. */
  runUntil(pred: () => boolean, maxMs: number): boolean {
    const end = this.now + maxMs;
    while (!pred()) {
      const at = this.events.peekAt();
      if (at > end) {
        this.now = end;
        return pred();
      }
      this.now = Math.max(this.now, at);
      const ev = this.events.popDue(this.now)!;
      ev();
    }
    return true;
  }

  runFor(ms: number): void {
    this.runUntil(() => false, ms);
  }

  /** Rebuilds every view from the ledgers, as converged gossip would show them now. */
  refreshViews(): void {
    const cells = 2 ** this.cellBits;
    const members: MemberView[][] = Array.from({ length: cells }, () => []);
    const seq = this.seq++;
    for (const h of this.hosts) {
      const failed = h.downSinceMs !== null && this.now - h.downSinceMs >= this.detectMs;
      const rec: HostRecord = {
        origin: h.peer,
        incarnation: 1,
        seq,
        cluster: 'default',
        zone: h.ledger.profile.zone,
        labels: h.ledger.profile.labels,
        drivers: h.ledger.profile.drivers,
        capacity: h.ledger.profile.capacity,
        free: h.ledger.free(),
        antiAffinityGroups: h.ledger.antiAffinityGroups(),
        jobs: h.ledger.size,
        health: h.ledger.profile.health,
        draining: h.ledger.profile.draining,
        addrs: [],
      };
      members[h.cell]!.push({ record: rec, status: failed ? 'failed' : 'alive', updatedAtMs: this.now });
    }
    const summaries: CellSummary[] = members.map((m, c) => summarize(c, this.cellBits, m, this.now));
    for (const h of this.hosts) {
      for (const m of members[h.cell]!) h.view.setMember(m);
      for (const s of summaries) h.view.setSummary(s);
    }
  }

  private scheduleRefresh(): void {
    this.events.push(this.now + this.viewRefreshMs, () => {
      this.refreshViews();
      this.scheduleRefresh();
    });
  }

  private send(from: HarnessHost, to: PeerIdStr, msg: PlacementMessage): void {
    const bytes = encodePlacementMessage(msg, this.opts.maxMessageBytes);
    this.messages++;
    this.bytes += bytes.length;
    const target = this.byPeer.get(to);
    let delay = this.latencyMs * (1 + 0.5 * this.rng.next());
    if (this.intercept !== null) {
      const extra = this.intercept(from.peer, to, msg);
      if (extra === null) return;
      delay += extra;
    }
    this.events.push(this.now + delay, () => {
      if (from.downSinceMs !== null || target === undefined || target.downSinceMs !== null) return;
      target.node.onMessage(from.peer, decodePlacementMessage(bytes, this.opts.maxMessageBytes), this.now);
      this.touch(target);
    });
  }

  /** After a node handled something, make sure its next timer is scheduled. */
  private touch(h: HarnessHost): void {
    const at = h.node.nextTimerAtMs();
    if (at === Infinity || at >= h.timerAtMs) return;
    h.timerAtMs = at;
    this.events.push(at, () => {
      if (h.timerAtMs !== at) return;
      h.timerAtMs = Infinity;
      if (h.downSinceMs !== null) return;
      h.node.onTimer(this.now);
      this.touch(h);
    });
  }
}
