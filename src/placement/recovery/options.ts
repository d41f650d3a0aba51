import { ShoalError } from '../../core/errors.ts';

/**
 * Recovery options: how many copies of each job record a cell keeps, how long a failed host
 * gets before its jobs move, and how fast they move. Shared by the agent and the simulator.
 */
export interface RecoveryOptions {
  /** Hosts that hold a durable copy of each of a host's job records (its ring successors). */
  readonly replicas: number;
  /** Time after a host is declared failed before its jobs are re-placed. */
  readonly evacuateAfterMs: number;
  /** The same for a host that left gracefully (an agent restart or upgrade says `left`). */
  readonly evacuateLeftAfterMs: number;
  /** A host this node has never seen in its view since it started counts as down only after this. */
  readonly unknownHostGraceMs: number;
  /** Re-placements one evacuator has in flight at once. */
  readonly maxConcurrentReplacements: number;
  /** Re-placements one evacuator starts per second (a zone failure must not become a placement storm). */
  readonly maxReplacementsPerSec: number;
  /** First delay before a refused or failed re-placement is tried again. */
  readonly retryInitialMs: number;
  /** Longest delay between tries. */
  readonly retryMaxMs: number;
}

export const defaultRecoveryOptions: RecoveryOptions = Object.freeze({
  // 2 copies: the job survives its host plus one holder failing at once (a rack or power
  // domain rarely takes three ring neighbours: ring order is hash order, not rack order).
  replicas: 2,
  // 10 s after `failed`: detection already took 2-5 s of silence; a refuted false suspicion or
  // an agent restart (a few seconds, with a higher incarnation) is over by then, and moving a VM
  // means a cold boot elsewhere, far dearer than 10 s more of waiting. Jobs run again ~15 s
  // after their host died.
  evacuateAfterMs: 10_000,
  // 5 min after `left`: a graceful leave is almost always a restart or an upgrade, and the
  // instances keep running meanwhile (drivers outlive the agent). Use `shoal drain` to move jobs.
  evacuateLeftAfterMs: 300_000,
  // 30 s: a restarted holder's view needs a few sync rounds before "not in view" means "gone".
  unknownHostGraceMs: 30_000,
  // 8 in flight: each is a placement (a few ms of the key owner's and the target's time);
  // enough to move a host's jobs in seconds without one evacuator hogging key owners.
  maxConcurrentReplacements: 8,
  // 50/s per evacuator: a 10% failure at 100k hosts has 10k evacuators, i.e. ≤ 500k/s cluster
  // wide in theory, bounded in practice by jobs per host; each job's placement costs ~4 messages.
  maxReplacementsPerSec: 50,
  // 2 s, doubling: capacity freed by other evacuations or by gossip catching up is seen quickly.
  retryInitialMs: 2_000,
  // 60 s: a job nobody can take is retried every minute until capacity appears.
  retryMaxMs: 60_000,
});

const POSITIVE_INTEGERS = ['maxConcurrentReplacements'] as const;
const NON_NEGATIVE_INTEGERS = ['replicas'] as const;
const NON_NEGATIVE_DURATIONS = ['evacuateAfterMs', 'evacuateLeftAfterMs', 'unknownHostGraceMs'] as const;
const POSITIVE_NUMBERS = ['maxReplacementsPerSec', 'retryInitialMs', 'retryMaxMs'] as const;

/** Defaults overlaid with `partial`; throws RECOVERY_INVALID_OPTIONS naming the bad field. */
export function recoveryOptions(partial: Partial<RecoveryOptions> = {}): RecoveryOptions {
  for (const key of Object.keys(partial)) {
    if (!(key in defaultRecoveryOptions)) throw new ShoalError('RECOVERY_INVALID_OPTIONS', `unknown recovery option "${key}"`, { option: key });
  }
  const opts: RecoveryOptions = { ...defaultRecoveryOptions, ...partial };
  const bad = (key: keyof RecoveryOptions, want: string): never => {
    throw new ShoalError('RECOVERY_INVALID_OPTIONS', `recovery option ${key} must be ${want}, got ${String(opts[key])}`, { option: key, value: opts[key] });
  };
  for (const k of POSITIVE_INTEGERS) if (!Number.isInteger(opts[k]) || opts[k] < 1) bad(k, 'a positive integer');
  for (const k of NON_NEGATIVE_INTEGERS) if (!Number.isInteger(opts[k]) || opts[k] < 0) bad(k, 'a non-negative integer');
  for (const k of NON_NEGATIVE_DURATIONS) if (!Number.isFinite(opts[k]) || opts[k] < 0) bad(k, 'a non-negative number of milliseconds');
  for (const k of POSITIVE_NUMBERS) if (!Number.isFinite(opts[k]) || opts[k] <= 0) bad(k, 'a positive number');
  if (opts.retryMaxMs < opts.retryInitialMs) bad('retryMaxMs', `at least retryInitialMs (${opts.retryInitialMs})`);
  return Object.freeze(opts);
}
