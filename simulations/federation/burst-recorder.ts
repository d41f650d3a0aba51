import type { Millis } from '../../src/core/index.ts';
import type { Reply } from '../../src/federation/index.ts';
import { Histogram } from '../metrics/histogram.ts';
import type { EntryOutcome } from './sim-entry.ts';

/** Metric-name form of an error code: `FEDERATION_DENIED` → `federation_denied`. */
function label(code: string): string {
  return code.replace(/[^a-z0-9]+/gi, '_').toLowerCase();
}

/**
 * What the burst load's callers saw: outcomes by code, latency by outcome (virtual time),
 * where bursts landed, and whether a key sent twice named one job.
 */
export class BurstRecorder {
  submitted = 0;
  answered = 0;
  localPlaced = 0;
  readonly localFailed = new Map<string, number>();
  bursts = 0;
  placed = 0;
  duplicates = 0;
  readonly refused = new Map<string, number>();
  readonly failed = new Map<string, number>();
  /** Gateway hand-off → answer, by outcome. */
  readonly placedMs = new Histogram();
  readonly refusedMs = new Histogram();
  readonly failedMs = new Histogram();
  /** Submit at the entry → answer (local attempt and binding lookup included), for placed bursts. */
  readonly placedE2eMs = new Histogram();
  readonly landedIn = new Map<string, number>();
  /** Each asked or ranked-out cluster's reason in bursts that placed nothing (BurstAttempt's refusals), by code. */
  readonly clusterRefusals = new Map<string, number>();
  /** Bursts submitted at or after the gateway kill. */
  afterKill = 0;
  afterKillPlaced = 0;
  afterKillFailed = 0;
  readonly afterKillPlacedMs = new Histogram();
  repeats = 0;
  repeatMismatches = 0;
  readonly #firstAnswer = new Map<string, string | null>();

  /** `key` set for a job sent twice: both answers are compared. */
  record(r: EntryOutcome, ownCluster: string, submitAtMs: Millis, doneAtMs: Millis, killAtMs: Millis, key: string | null): void {
    this.answered++;
    const afterKill = submitAtMs >= killAtMs;
    let jobId: string | null = null;
    if (r.via === 'local') {
      if (r.outcome.type === 'placed') {
        this.localPlaced++;
        jobId = `${r.outcome.jobId}@${ownCluster}`;
      } else bump(this.localFailed, r.outcome.type === 'refused' ? 'JOB_UNPLACEABLE' : r.outcome.code);
    } else {
      this.bursts++;
      if (afterKill) this.afterKill++;
      const ms = doneAtMs - r.burstAtMs;
      const reply: Reply = r.reply;
      if (reply.ok) {
        if (reply.created === false) this.duplicates++;
        else this.placed++;
        this.placedMs.add(ms);
        this.placedE2eMs.add(doneAtMs - submitAtMs);
        if (typeof reply.cluster === 'string') bump(this.landedIn, reply.cluster);
        jobId = reply.job?.id ?? null;
        if (afterKill) {
          this.afterKillPlaced++;
          this.afterKillPlacedMs.add(ms);
        }
      } else if (reply.details?.ambiguous === true) {
        bump(this.failed, reply.code);
        this.failedMs.add(ms);
        if (afterKill) this.afterKillFailed++;
      } else {
        bump(this.refused, reply.code);
        this.refusedMs.add(ms);
        const refusals = reply.details?.refusals;
        if (Array.isArray(refusals)) for (const x of refusals as { code?: unknown }[]) if (typeof x.code === 'string') bump(this.clusterRefusals, x.code);
      }
    }
    if (key === null) return;
    const first = this.#firstAnswer.get(key);
    if (first === undefined) {
      this.#firstAnswer.set(key, jobId);
      return;
    }
    this.repeats++;
    if (first !== null && jobId !== null && first !== jobId) this.repeatMismatches++;
    this.#firstAnswer.delete(key);
  }

  metrics(): Record<string, number | null> {
    const q = (h: Histogram, p: number): number | null => h.quantile(p);
    const out: Record<string, number | null> = {
      fed_jobs_submitted: this.submitted,
      fed_jobs_answered: this.answered,
      fed_local_placed: this.localPlaced,
      bursts_total: this.bursts,
      bursts_placed: this.placed,
      bursts_duplicate: this.duplicates,
      bursts_refused: sum(this.refused),
      bursts_failed: sum(this.failed),
      burst_placed_p50_ms: q(this.placedMs, 0.5),
      burst_placed_p99_ms: q(this.placedMs, 0.99),
      burst_placed_max_ms: this.placedMs.count > 0 ? this.placedMs.max : null,
      burst_placed_e2e_p99_ms: q(this.placedE2eMs, 0.99),
      burst_refused_p50_ms: q(this.refusedMs, 0.5),
      burst_refused_p99_ms: q(this.refusedMs, 0.99),
      burst_failed_p99_ms: q(this.failedMs, 0.99),
      bursts_after_kill: this.afterKill,
      bursts_after_kill_placed: this.afterKillPlaced,
      bursts_after_kill_failed: this.afterKillFailed,
      burst_after_kill_placed_p99_ms: q(this.afterKillPlacedMs, 0.99),
      burst_after_kill_placed_max_ms: this.afterKillPlacedMs.count > 0 ? this.afterKillPlacedMs.max : null,
      burst_repeats: this.repeats,
      burst_repeat_mismatches: this.repeatMismatches,
    };
    for (const [code, n] of this.refused) out[`bursts_refused_${label(code)}`] = n;
    for (const [code, n] of this.failed) out[`bursts_failed_${label(code)}`] = n;
    for (const [code, n] of this.clusterRefusals) out[`burst_cluster_refusals_${label(code)}`] = n;
    for (const [code, n] of this.localFailed) out[`fed_local_failed_${label(code)}`] = n;
    return out;
  }
}

function bump(m: Map<string, number>, k: string): void {
  m.set(k, (m.get(k) ?? 0) + 1);
}

function sum(m: Map<string, number>): number {
  let n = 0;
  for (const v of m.values()) n += v;
  return n;
}
