import type { Millis } from '../core/clock.ts';
import { wireSize } from '../core/protocol.ts';
import { jittered } from '../core/rng.ts';
import type { PeerIdStr, Verdict } from '../core/transport.ts';
import { FALLBACK_STAND_INS } from './cell-events.ts';
import { encodeSummary, summaryContentHash } from './codec.ts';
import { buildDigests } from './digest-builder.ts';
import type { GossipReason } from './errors.ts';
import type { DigestMsg, SummaryVersion } from './messages.ts';
import { NodePart, type NodeContext } from './node-part.ts';
import type { GossipOptions } from './options.ts';
import { PublishPacer } from './pacer.ts';
import type { CellSummary, Contact } from './records.ts';
import { restamped, summarizeCell, summaryChanged } from './summary.ts';
import { heapKey } from './summary-store.ts';
import { T_DIGEST, T_SUMMARY } from './timer-slots.ts';
import { MAX_CELL_BITS, districtOf } from './topics.ts';

/**
 * A reporter whose cell is losing members (suspicions, then failures, over several seconds
 * in a correlated failure) publishes its summary once no loss came for SUMMARY_SETTLE_MS, or
 * SUMMARY_SETTLE_MAX_MS after the first, instead of at each step: one summary per cell, after
 * the cell topic's burst rather than on top of it. So does a member that becomes the reporter
 * because the last one is suspect: its first summary waits out the same burst. Arrivals
 * settle the same way, without the spread, once the cell has a summary out (its first
 * waits for the view instead). At a 20k warm start a reporter published three summaries in
 * its cell's first 8 s of filling (the last with 16 of its 43 members), which spent its
 * district burst, and its whole cell's summary waited 110 s for credit.
 */
const SUMMARY_SETTLE_MS = 2000;
const SUMMARY_SETTLE_MAX_MS = 10_000;

/** When a run of losses or arrivals (or of a district's changed summaries, for its digest) has settled: the last plus SUMMARY_SETTLE_MS, at most the first plus SUMMARY_SETTLE_MAX_MS. */
function settledAt(lastAtMs: Millis, firstAtMs: Millis): Millis {
  return Math.min(lastAtMs + SUMMARY_SETTLE_MS, firstAtMs + SUMMARY_SETTLE_MAX_MS);
}
/**
 * A settled summary then waits a further delay drawn over [0, SUMMARY_SPREAD_MS): every cell
 * of a district settles within the same few seconds after a correlated failure, and each
 * summary reaches each of the district's delegates ~5 times (at 20k hosts and 30% down,
 * 6–10 district messages per host per second, 6–8 s after the failure). Summaries are
 * routing hints; the contact a placement asks holds the fresh view.
 */
const SUMMARY_SPREAD_MS = 10_000;
/**
 * A delegate's district mesh forms over this long after it subscribed (at a layout change,
 * or when it became a delegate). Meanwhile a reporter repeats its first summary soon
 * (FIRST_REPEAT_MS) and repeats its summary over a new link to another cell (it may join
 * two halves of the district mesh); later, summary repair fills any gap. Without the bound,
 * a 30% failure at 20k hosts made most reporters republish 3–7 s after it, on top of the
 * cell topics' suspicions: ~390 of 512 over new links while remote contacts were drawn
 * afresh at every refresh, and every new reporter (the old one suspect) its first summary
 * again 2.5, 5 and 10 s later, into a mesh it had been in all along.
 */
const DISTRICT_MESH_FORMING_MS = 120_000;
/**
 * A cell whose summary has been missing this long past the first-summary wait (per rank)
 * gets one from its rank-1, then rank-2 member: while layouts are mixed the lowest-hash
 * member may sit in another layout and report a different cell (after a 1k partition healed,
 * two cells had no summary for 70 s, until the end of the run).
 */
const STAND_IN_STEP_MS = 10_000;
/** Summary checks a node waits after entering a cell before it may report for it. */
const REPORTER_SETTLE_CHECKS = 3;
/**
 * After the first summary (or full digest) in a layout, repeats come at this interval,
 * doubling up to the heartbeat: a publication made before a subscriber's mesh formed is
 * lost (gossipsub drops it), and late subscribers must not wait a whole heartbeat.
 */
const FIRST_REPEAT_MS = 2500;
/** Summaries digests named by version that we lack, remembered for the repair timer to pull. */
const MAX_WANTED = 256;
/** A cell's first summary waits at most this long for its view to settle. */
export const MAX_FIRST_SUMMARY_WAIT_MS = 15_000;
/** Direct summary pushes to the district reporter are this many digest intervals apart at least. */
const DIGEST_PUSH_SPACING = 5;
/** How long a new cell reporter hears its district before it may act as district reporter. */
const DIGEST_SETTLE_MS = 10_000;
/** Cells whose summary changed since the district reporter's last digest; beyond it the next digest is a full one. */
export const MAX_DIRTY = 256;

/** Whether a summary (or digest) issued at `issuedAtMs` is usable at `now`: null, or why not. */
export function freshness(issuedAtMs: Millis, now: Millis, opts: GossipOptions): GossipReason | null {
  if (issuedAtMs > now + opts.maxClockSkewMs) return 'GOSSIP_FUTURE';
  if (issuedAtMs < now - opts.summaryTtlMs) return 'GOSSIP_STALE';
  return null;
}

export interface ReporterHooks {
  /** Our rank among the cell's alive members by hash (0: the cell's reporter), as the node last computed it. */
  rank(): number;
  /** Whether we are one of the cell's delegates on its district topic. */
  delegate(): boolean;
  /** Whether a full push-pull with a member of our cell has completed since we entered it. */
  cellSynced(): boolean;
}

/**
 * The reporter roles of a node. As a cell's reporter (its lowest-hash alive member, or a
 * stand-in for a silent one) it publishes the cell's summary on the district topic; as a
 * district's reporter (the reporter of its lowest known cell) it publishes the district's
 * changed summaries in digests on the global topic. Every node runs one: it stores the
 * summaries and digests it hears, and is idle while it holds no role.
 */
export class Reporter extends NodePart {
  private readonly hooks: ReporterHooks;

  private started = false;
  private ringChangedAtMs = 0;
  /** The last loss of a member (suspect, failed, left), and the first since our last summary or since we became the reporter (see SUMMARY_SETTLE_MS). */
  private memberLostAtMs = -Infinity;
  private lossesUnsummarizedSinceMs = Infinity;
  /** The last arrival (new member, or back alive), and the first since our last summary (see SUMMARY_SETTLE_MS). */
  private memberGainedAtMs = -Infinity;
  private gainsUnsummarizedSinceMs = Infinity;
  /** This loss episode's draw of SUMMARY_SPREAD_MS; negative until drawn. */
  private summarySpreadMs = -1;
  /** Reporting for our cell although not rank 0: nobody else has (see STAND_IN_STEP_MS). */
  private standingIn = false;
  /** Last maintenance tick at which our cell's summary (at our cellBits) from someone else was known. */
  private ownSummarySeenAtMs = 0;

  // Summaries (as cell reporter) and digests (as district reporter).
  private lastSummary: CellSummary | undefined;
  private lastSummaryAtMs = -Infinity;
  private summaryVersionSeen = -1;
  /**
   * A changed summary the district pacer held back: recomputed and sent when the budget
   * allows. A flag of its own, not a reset of summaryVersionSeen: that would make every
   * handler call (every ping) pull the check forward to the next summaryCheckMs, and the
   * reporter recomputed its summary about once a second until the budget allowed.
   */
  private summaryHeld = false;
  private summaryHeartbeatMs: number;
  private districtPacer!: PublishPacer;
  private readonly dirty = new Set<number>();
  /**
   * As district delegate (the reporter is one): per heap key of our district, the content
   * hash of the summary last carried whole in a digest, ours or another reporter's. A digest
   * names a summary by version when the cluster got its content that way (a heartbeat or a
   * first-summary repeat reissues it unchanged: most of a steady district's news); a receiver
   * that missed it pulls. At 100k hosts a refresh of bodies was ~90 KB per district, received
   * ~5 times. Kept by every delegate, since the next reporter is one of them.
   */
  private readonly wholeInDigest = new Map<number, number>();
  /** Heap key → issuedAtMs of summaries a digest named whose content we do not hold. */
  private readonly wanted = new Map<number, Millis>();
  private lastDigestAtMs = -Infinity;
  /** The last and the first change to our district since the last digest (see settledAt). */
  private dirtyAtMs = -Infinity;
  private dirtySinceMs = -Infinity;
  private digestSettledAtMs = 0;
  private lastFullDigestAtMs = -Infinity;
  /** When this reporter last handed its summary to the district reporter directly. */
  private lastDigestPushAtMs = -Infinity;
  /** Interval to the next full digest: FIRST_REPEAT_MS after a layout change, doubling to digestFullIntervalMs. */
  private digestFullEveryMs = FIRST_REPEAT_MS;
  /** Publish the summary at the next check even if unchanged: a new district peer may have missed it. */
  private summaryForced = false;
  /** The next repeat interval of the summary while it is below the heartbeat. */
  private summaryRepeatMs = FIRST_REPEAT_MS;
  /** When we last subscribed to our district topic (see DISTRICT_MESH_FORMING_MS). */
  private districtSubscribedAtMs = -Infinity;
  private globalPacer!: PublishPacer;


  constructor(ctx: NodeContext, hooks: ReporterHooks) {
    super(ctx);
    this.hooks = hooks;
    this.summaryHeartbeatMs = jittered(ctx.opts.summaryHeartbeatMs, ctx.opts.heartbeatJitter, ctx.rng);
    // A loss or an arrival in the cell starts (or extends) a run the next summary waits out.
    this.membership.onEvent((ev) => {
      if (ev.status === 'alive') {
        if (ev.previous === 'alive') return;
        this.memberGainedAtMs = ev.atMs;
        if (this.gainsUnsummarizedSinceMs === Infinity) this.gainsUnsummarizedSinceMs = ev.atMs;
        return;
      }
      if (ev.previous === null) return;
      this.memberLostAtMs = ev.atMs;
      if (this.lossesUnsummarizedSinceMs === Infinity) this.lossesUnsummarizedSinceMs = ev.atMs;
    });
  }

  start(now: Millis): void {
    this.started = true;
    this.districtPacer = new PublishPacer(this.opts.districtTopic, now);
    // A full first burst: a district's first digest is what lets hosts elsewhere find its
    // cells at all. A random share of it (tried in 29ebb9a) held first digests back for up to
    // 4 s × districts: at 100k, 2% of views whole at 60 s instead of 63%, and all of them at
    // 154 s instead of 135 (simulations/README.md, "Cold start again").
    this.globalPacer = new PublishPacer(this.opts.globalTopic, now);
  }

  private get rank(): number {
    return this.hooks.rank();
  }

  /** We subscribed to our district's topic (see DISTRICT_MESH_FORMING_MS). */
  joinedDistrict(now: Millis): void {
    this.districtSubscribedAtMs = now;
  }

  /** We left our district's topic: what we knew went whole in its digests is no longer ours to keep. */
  leftDistrict(): void {
    this.wholeInDigest.clear();
  }

  /** The cell's ring changed, and maybe our rank on it: take up or drop the reporter roles. */
  rankChanged(now: Millis): void {
    this.ringChangedAtMs = now;
    if (this.rank === 0) {
      this.summarySoon(now);
      if (this.timers[T_DIGEST] === Infinity) {
        // A new reporter first listens to its district for a while: at a cold start every
        // reporter would otherwise believe it digests its district and flood the global topic.
        // The reporter of a district's first cell is its district reporter whatever it hears: no
        // need to wait, once it has synced with its cell. A newcomer is rank 0 of the cell it
        // knows only itself of: without that condition every joiner of a first cell published a
        // full digest to the whole cluster (the simulator saw ~80/s at a 5,000/s join).
        const firstCell = this.layout.district * this.layout.cellsInDistrict();
        this.digestSettledAtMs = this.layout.cell === firstCell && this.hooks.cellSynced() ? now : now + DIGEST_SETTLE_MS;
        this.timers[T_DIGEST] = this.digestSettledAtMs;
        this.digestFullEveryMs = FIRST_REPEAT_MS;
      }
    } else {
      if (!this.standingIn) {
        this.timers[T_SUMMARY] = Infinity;
        // No summary owed: a loss or arrival that makes us the reporter later starts its own settle.
        this.lossesUnsummarizedSinceMs = Infinity;
        this.gainsUnsummarizedSinceMs = Infinity;
      }
      this.timers[T_DIGEST] = Infinity;
      this.dirty.clear();
    }
  }

  /** After any handler, as the cell's reporter: the cell changed, so may its summary. */
  followCell(now: Millis): void {
    if (this.membership.version !== this.summaryVersionSeen) this.summarySoon(now);
  }

  /** We split or merged: what we reported and digested was in the old layout. */
  layoutChanged(now: Millis): void {
    this.lastSummary = undefined;
    // A fresh district budget for the new layout: its summaries replace the old layout's, and a
    // reporter that had spent its credit there left its new cell unreported for over a minute
    // after a split (the cost per summary doubles with the district's cell count).
    this.districtPacer = new PublishPacer(this.opts.districtTopic, now);
    this.dirty.clear();
    this.wholeInDigest.clear();
    this.lastFullDigestAtMs = -Infinity;
    this.digestFullEveryMs = FIRST_REPEAT_MS;
  }

  /** Summaries expired from the store: the next full digest comes sooner. */
  summariesExpired(now: Millis): void {
    this.lastFullDigestAtMs = Math.min(this.lastFullDigestAtMs, now - this.opts.digestFullIntervalMs / 2);
  }

  /** A new link to another cell may join two halves of the district mesh: our last summary never crossed it. */
  newRemoteLink(now: Millis): void {
    if (this.rank === 0 && this.lastSummary !== undefined && this.districtMeshForming(now)) this.summaryOwed(now);
  }

  /** A summary handed to us directly: only the district reporter takes them, and digests them. */
  onDirectSummary(summary: CellSummary, from: PeerIdStr, now: Millis): void {
    if (summary.cellBits === this.layout.bits && this.isDistrictReporter() && districtOf(summary.cell, summary.cellBits) === this.layout.district) {
      this.onSummary(summary, from, now);
    } else this.effects.refuse('GOSSIP_WRONG_TOPIC', 'ignore');
  }

  /** The next summary a digest named that we still lack (heap key), or undefined; each is handed out once. */
  takeWanted(): number | undefined {
    for (const [key, issuedAtMs] of this.wanted) {
      this.wanted.delete(key);
      const held = this.store.getByKey(key);
      if (held !== undefined && held.issuedAtMs >= issuedAtMs) continue;
      return key;
    }
    return undefined;
  }

  get dirtyCount(): number {
    return this.dirty.size;
  }

  /** We summarize our cell: as its lowest-hash member, or standing in for a silent one. */
  private get reportsCell(): boolean {
    return this.rank === 0 || this.standingIn;
  }

  summarySoon(now: Millis): void {
    if (!this.reportsCell || !this.started) return;
    // A node that just entered its cell believes it is the reporter until records arrive; it
    // waits a few checks so a cold start does not produce one summary per host.
    const at = Math.max(now + this.opts.summaryCheckMs, this.lastSummaryAtMs + this.opts.summaryMinIntervalMs, this.layout.sinceMs + REPORTER_SETTLE_CHECKS * this.opts.summaryCheckMs);
    if (at < this.timers[T_SUMMARY]!) this.timers[T_SUMMARY] = at;
  }

  /** Publish the summary again at the next allowed moment even if nothing changed (paced like any other). */
  private summaryOwed(now: Millis): void {
    this.summaryForced = true;
    const at = Math.max(now + this.opts.summaryCheckMs, this.lastSummaryAtMs + this.opts.summaryMinIntervalMs);
    if (at < this.timers[T_SUMMARY]!) this.timers[T_SUMMARY] = at;
  }

  summaryTimer(now: Millis): void {
    this.timers[T_SUMMARY] = Infinity;
    if (!this.reportsCell) return;
    if (!this.lastSummary) {
      // The first summary after entering a cell waits for the view to settle (one push-pull
      // with a cell-mate done, and no member came or went for a few checks), so it is right
      // and the burst credit is kept for news.
      const viewSettledAt = Math.min(
        // Alone in the cell: there is nobody to sync with, and others of the cell find us through this summary.
        Math.max(this.ringChangedAtMs + REPORTER_SETTLE_CHECKS * this.opts.summaryCheckMs, this.hooks.cellSynced() || this.membership.liveCount <= 1 ? 0 : Infinity),
        this.layout.sinceMs + MAX_FIRST_SUMMARY_WAIT_MS,
      );
      if (now < viewSettledAt) {
        this.timers[T_SUMMARY] = viewSettledAt;
        return;
      }
    }
    const heartbeatAt = this.summaryForced ? now : this.lastSummaryAtMs + this.summaryHeartbeatMs;
    const changedCell = this.summaryHeld || this.membership.version !== this.summaryVersionSeen;
    if (!changedCell && now < heartbeatAt) {
      this.timers[T_SUMMARY] = heartbeatAt;
      return;
    }
    // Arrivals settle even for a repeat that is owed: it carries the cell as it is then.
    if (this.lastSummary !== undefined) {
      const gainsSettledAt = settledAt(this.memberGainedAtMs, this.gainsUnsummarizedSinceMs);
      if (now < gainsSettledAt) {
        this.timers[T_SUMMARY] = gainsSettledAt;
        return;
      }
    }
    if (!this.summaryForced) {
      const lossesSettledAt = settledAt(this.memberLostAtMs, this.lossesUnsummarizedSinceMs);
      if (now < lossesSettledAt + SUMMARY_SPREAD_MS) {
        if (this.summarySpreadMs < 0) this.summarySpreadMs = this.rng.next() * SUMMARY_SPREAD_MS;
        if (now < lossesSettledAt + this.summarySpreadMs) {
          this.timers[T_SUMMARY] = lossesSettledAt + this.summarySpreadMs;
          return;
        }
      }
    }
    this.lossesUnsummarizedSinceMs = Infinity;
    this.gainsUnsummarizedSinceMs = Infinity;
    this.summarySpreadMs = -1;
    this.summaryVersionSeen = this.membership.version;
    const contacts: Contact[] = this.membership
      .lowest(this.opts.summaryContacts, null, true)
      .map((m) => ({ peer: m.record.origin, addrs: m.record.addrs.length > 2 ? m.record.addrs.slice(0, 2) : m.record.addrs }));
    const summary = summarizeCell({
      cluster: this.opts.cluster,
      cell: this.layout.cell,
      cellBits: this.layout.bits,
      reporter: this.self,
      now,
      members: this.membership.viewMap().values(),
      contacts,
    });
    if (!summaryChanged(this.lastSummary, summary, this.opts.summaryChangeFraction) && now < heartbeatAt) {
      this.timers[T_SUMMARY] = heartbeatAt;
      return;
    }
    const enc = encodeSummary(summary);
    const publishers = this.layout.cellsInDistrict();
    const ready = this.districtPacer.readyAtMs(now, wireSize(enc), publishers);
    if (ready > now) {
      this.summaryHeld = true;
      this.timers[T_SUMMARY] = ready;
      return;
    }
    this.effects.publish(this.layout.districtTopic, 'district', enc);
    this.summaryForced = false;
    this.summaryHeld = false;
    this.districtPacer.charge(now, wireSize(enc), publishers);
    this.stats.summariesPublished++;
    // The first summaries in a layout often go out before the district mesh has formed
    // (gossipsub drops a publication nobody subscribed is connected for): while it forms,
    // repeat them soon, backing off to the heartbeat.
    if (this.lastSummary === undefined) this.summaryRepeatMs = this.districtMeshForming(now) ? FIRST_REPEAT_MS : Infinity;
    this.lastSummary = summary;
    this.lastSummaryAtMs = now;
    const heartbeatMs = jittered(this.opts.summaryHeartbeatMs, this.opts.heartbeatJitter, this.rng) * this.awareness.factor;
    this.summaryHeartbeatMs = Math.min(this.summaryRepeatMs, heartbeatMs);
    this.summaryRepeatMs *= 2;
    this.storeSummary(summary, now);
    this.timers[T_SUMMARY] = now + this.summaryHeartbeatMs;
  }

  private districtMeshForming(now: Millis): boolean {
    return now - this.districtSubscribedAtMs < DISTRICT_MESH_FORMING_MS;
  }

  storeSummary(s: CellSummary, now: Millis): boolean {
    const known = this.store.get(s.cell) !== undefined;
    if (this.store.put(s) === 'stale') return false;
    if (this.rank === 0 && s.cellBits >= this.layout.districtBits && s.cell >>> (s.cellBits - this.layout.districtBits) === this.layout.district) {
      // A reporter we had not heard may not have heard us either (it subscribed after our
      // last summary, or we learned of it another way): say ours again soon, once. Not while
      // our district mesh forms: the first summary's repeats reach late subscribers then, and
      // at a split every new cell's reporter heard ~30 new ones in 5 s and said its own twice
      // more (a 1k join wave's peak).
      if (!known && s.cell !== this.layout.cell && this.lastSummary !== undefined && !this.districtMeshForming(now)) this.summaryOwed(now);
      if (this.dirty.size === 0) this.dirtySinceMs = now;
      this.dirtyAtMs = now;
      if (this.dirty.size < MAX_DIRTY) this.dirty.add(heapKey(s.cellBits, s.cell));
      else this.lastFullDigestAtMs = -Infinity;
      const at = Math.max(now, this.lastDigestAtMs + this.opts.digestMinIntervalMs, this.digestSettledAtMs, settledAt(this.dirtyAtMs, this.dirtySinceMs));
      if (at < this.timers[T_DIGEST]!) this.timers[T_DIGEST] = at;
    }
    return true;
  }

  onSummary(summary: CellSummary, origin: PeerIdStr, now: Millis): Verdict {
    if (summary.reporter !== origin) return this.effects.refuse('GOSSIP_ORIGIN_MISMATCH', 'reject');
    if (summary.cluster !== this.opts.cluster) return this.effects.refuse('GOSSIP_WRONG_CLUSTER', 'reject');
    const bad = this.fresh(summary.issuedAtMs, now);
    if (bad) return this.effects.refuse(bad, 'ignore');
    if (!this.storeSummary(summary, now)) return this.effects.refuse('GOSSIP_STALE', 'ignore');
    return 'accept';
  }

  // ==========================================================================================
  // Digests (district reporter)

  /** The reporter of the lowest known cell of the district publishes its digests. */
  isDistrictReporter(): boolean {
    if (this.rank !== 0) return false;
    const span = this.layout.cellsInDistrict();
    const first = this.layout.district * span;
    for (let cell = first; cell < this.layout.cell; cell++) if (this.store.get(cell)) return false;
    // Just after a split or merge the lower cells are known only in the layout next to ours:
    // counting them keeps every new cell's reporter from believing it digests the district
    // (a 1k join wave's split sent 5 full digests in one second, 340 KB/s per host).
    for (let parent = first >>> 1; 2 * parent < this.layout.cell; parent++) if (this.layout.bits > 0 && this.store.getByKey(heapKey(this.layout.bits - 1, parent))) return false;
    if (this.layout.bits < MAX_CELL_BITS) for (let child = 2 * first; child < 2 * this.layout.cell; child++) if (this.store.getByKey(heapKey(this.layout.bits + 1, child))) return false;
    return true;
  }

  digestTimer(now: Millis): void {
    this.timers[T_DIGEST] = Infinity;
    if (this.rank !== 0) return;
    const fullDue = now - this.lastFullDigestAtMs >= this.digestFullEveryMs;
    if (!this.isDistrictReporter()) {
      // Another cell's reporter digests this district; check again later in case it goes.
      this.dirty.clear();
      this.timers[T_DIGEST] = now + this.opts.digestFullIntervalMs / 4;
      return;
    }
    if (this.dirty.size === 0 && !fullDue) {
      this.timers[T_DIGEST] = this.lastFullDigestAtMs + this.digestFullEveryMs;
      return;
    }
    // Changes wait to settle as a cell's arrivals and losses do: one digest per burst of
    // summaries instead of one per summary. Each digest reaches every host ~5 times, and with
    // summaries a third smaller the global pacer no longer spaced them: in a 1k join wave
    // (seeds 1-20) the peak rose to 1.94 × steady; with the wait 1.79 at most.
    const dirtySettledAt = settledAt(this.dirtyAtMs, this.dirtySinceMs);
    if (!fullDue && now < dirtySettledAt) {
      this.timers[T_DIGEST] = Math.min(dirtySettledAt, this.lastFullDigestAtMs + this.digestFullEveryMs);
      return;
    }
    // Nor does any digest go out while our own cell is losing members: a correlated failure
    // reaches every cell at once, what a digest carries then is older news, and the
    // failure's summaries follow once they settle. At 100k, a 30% failure 270 s after a warm
    // start met two digests of the start's backlog in its first 5 s (peak 2.19 × steady).
    const lossesSettledAt = settledAt(this.memberLostAtMs, this.lossesUnsummarizedSinceMs);
    if (now < lossesSettledAt) {
      this.timers[T_DIGEST] = lossesSettledAt;
      return;
    }
    const due: CellSummary[] = [];
    if (fullDue) {
      for (const s of this.store.district(this.layout.district, this.layout.districtBits)) if (!this.fresh(s.issuedAtMs, now)) due.push(s);
    } else {
      for (const key of this.dirty) {
        const s = this.store.getByKey(key);
        if (s && !this.fresh(s.issuedAtMs, now)) due.push(s);
      }
    }
    const summaries: CellSummary[] = [];
    const versions: SummaryVersion[] = [];
    for (const s of due) {
      const key = heapKey(s.cellBits, s.cell);
      const contentHash = summaryContentHash(s);
      if (this.wholeInDigest.get(key) === contentHash) versions.push({ cellBits: s.cellBits, cell: s.cell, issuedAtMs: s.issuedAtMs, contentHash });
      else summaries.push(s);
    }
    if (summaries.length === 0 && versions.length === 0) {
      this.dirty.clear();
      if (fullDue) this.lastFullDigestAtMs = now;
      this.timers[T_DIGEST] = now + this.opts.digestFullIntervalMs;
      return;
    }
    const header = { cluster: this.opts.cluster, reporter: this.self, cellBits: this.layout.bits, districtBits: this.layout.districtBits, district: this.layout.district, full: fullDue };
    const digests = buildDigests(header, summaries, versions, now);
    let bytes = 0;
    for (const d of digests) bytes += wireSize(d);
    const publishers = 2 ** this.layout.districtBits;
    const ready = this.globalPacer.readyAtMs(now, bytes, publishers);
    if (ready > now) {
      this.timers[T_DIGEST] = ready; // dirty kept: the next digest carries them
      return;
    }
    for (const d of digests) this.effects.publish(this.layout.globalTopic, 'global', d);
    this.noteWhole(summaries);
    this.globalPacer.charge(now, bytes, publishers);
    this.stats.digestsPublished += digests.length;
    this.dirty.clear();
    this.lastDigestAtMs = now;
    if (fullDue) {
      this.lastFullDigestAtMs = now;
      this.digestFullEveryMs = Math.min(2 * this.digestFullEveryMs, this.opts.digestFullIntervalMs);
    }
    this.timers[T_DIGEST] = this.lastFullDigestAtMs + this.digestFullEveryMs;
  }

  /** A digest of our district in our layout. */
  private ofOwnDistrict(msg: DigestMsg): boolean {
    return msg.cellBits === this.layout.bits && msg.district === this.layout.district;
  }

  /** Content of our district the cluster got whole in a digest (see wholeInDigest). */
  private noteWhole(summaries: readonly CellSummary[]): void {
    for (const s of summaries) this.wholeInDigest.set(heapKey(s.cellBits, s.cell), summaryContentHash(s));
  }

  onDigest(msg: DigestMsg, origin: PeerIdStr, now: Millis): Verdict {
    if (msg.reporter !== origin) return this.effects.refuse('GOSSIP_ORIGIN_MISMATCH', 'reject');
    if (msg.cluster !== this.opts.cluster) return this.effects.refuse('GOSSIP_WRONG_CLUSTER', 'reject');
    const bad = this.fresh(msg.issuedAtMs, now);
    if (bad) return this.effects.refuse(bad, 'ignore');
    for (const s of msg.summaries) if (!this.fresh(s.issuedAtMs, now)) this.store.put(s);
    if ((this.hooks.delegate() || this.rank === 0) && this.ofOwnDistrict(msg)) this.noteWhole(msg.summaries);
    for (const v of msg.versions) {
      if (this.fresh(v.issuedAtMs, now)) continue;
      const key = heapKey(v.cellBits, v.cell);
      const held = this.store.getByKey(key);
      if (held !== undefined && held.issuedAtMs >= v.issuedAtMs) continue;
      if (held !== undefined && summaryContentHash(held) === v.contentHash) this.store.put(restamped(held, v.issuedAtMs));
      else if (this.wanted.size < MAX_WANTED) this.wanted.set(key, Math.max(v.issuedAtMs, this.wanted.get(key) ?? 0));
    }
    if (msg.full) this.checkDigestHasUs(msg, now);
    return 'accept';
  }

  /**
   * A full digest of our district that lacks our cell's latest summary means the district
   * reporter never heard us (the district topic's mesh may be split while it forms): hand it
   * our summary directly. At most once per digestMinIntervalMs × DIGEST_PUSH_SPACING.
   */
  private checkDigestHasUs(msg: DigestMsg, now: Millis): void {
    const mine = this.lastSummary;
    if (this.rank !== 0 || mine === undefined || msg.reporter === this.self) return;
    if (!this.ofOwnDistrict(msg)) return;
    const carriedAt = msg.summaries.find((x) => x.cell === this.layout.cell)?.issuedAtMs ?? msg.versions.find((v) => v.cell === this.layout.cell && v.cellBits === this.layout.bits)?.issuedAtMs;
    if (carriedAt !== undefined && carriedAt >= this.lastSummaryAtMs - this.summaryHeartbeatMs) return;
    if (now - this.lastDigestPushAtMs < this.opts.digestMinIntervalMs * DIGEST_PUSH_SPACING) return;
    this.lastDigestPushAtMs = now;
    const contact = this.store.get(this.layout.cellOf(msg.reporter))?.contacts.find((c) => c.peer === msg.reporter);
    if (contact) this.effects.dial(contact.peer, contact.addrs);
    this.effects.send(msg.reporter, encodeSummary(mine));
  }

  /** Whether we report our cell in place of its silent rank-0 member (see STAND_IN_STEP_MS). */
  checkStandIn(mine: CellSummary | undefined, now: Millis): void {
    if (mine !== undefined && mine.reporter !== this.self) this.ownSummarySeenAtMs = now;
    const silentFor = now - Math.max(this.ownSummarySeenAtMs, this.layout.sinceMs);
    const standIn = this.rank > 0 && this.rank <= FALLBACK_STAND_INS && silentFor > MAX_FIRST_SUMMARY_WAIT_MS + this.rank * STAND_IN_STEP_MS;
    if (standIn === this.standingIn) return;
    this.standingIn = standIn;
    if (standIn) {
      this.stats.summaryStandIns++;
      this.summaryOwed(now);
    } else if (this.rank !== 0) {
      this.timers[T_SUMMARY] = Infinity;
      this.lastSummary = undefined;
    }
  }


  private fresh(issuedAtMs: Millis, now: Millis): GossipReason | null {
    return freshness(issuedAtMs, now, this.opts);
  }
}
