import { PlacementError } from './errors.ts';

/**
 * Placement tunables. The same values drive the agent and the simulator; only the
 * timeouts differ in practice (real streams vs virtual latency).
 */
export interface PlacementOptions {
  /** Power-of-d: how many of the top candidates are sampled; the best sampled one wins. */
  readonly choices: number;
  /** How many best-scoring feasible hosts stay candidates for the power-of-d draw. */
  readonly topK: number;
  /** Candidates scoring more than this below the best are dropped before the draw (score units: fraction of a host). */
  readonly scoreSlack: number;
  /** Hard cap on asks (admit or route) per placement, the first included. */
  readonly maxAsks: number;
  /** Asks spent on the coordinator's own cell before it routes to other cells. */
  readonly maxOwnCellAsks: number;
  /** Asks a contact may spend inside its cell for one routed request. */
  readonly contactMaxAsks: number;
  /** Wait for one host's admission answer. */
  readonly admitTimeoutMs: number;
  /** Wait for a contact's answer (it may ask `contactMaxAsks` hosts in turn). */
  readonly routeTimeoutMs: number;
  /** Give up a placement after this long, whatever the budget left. */
  readonly attemptDeadlineMs: number;
  /** Entry waits this long for the key's owner to acknowledge a submit before trying the next owner. */
  readonly submitAckTimeoutMs: number;
  /** Entry waits this long for the outcome once the owner acknowledged. */
  readonly submitResultTimeoutMs: number;
  /** Owners tried per submit (the rendezvous order gives the successors). */
  readonly submitMaxTries: number;
  /** A submit or locate is forwarded at most this many times (entry → contact → owner). */
  readonly maxForwardHops: number;
  /** Cell summaries older than this are not routed to. */
  readonly maxSummaryAgeMs: number;
  /** Weight of a cell whose summary only might fit (maxFree covers the job, no shape count does). */
  readonly weakCellWeight: number;
  /** How long an admission answer's `free` overrides the gossip view of that host. */
  readonly overlayTtlMs: number;
  /** Bound on hosts remembered in the overlay. */
  readonly maxOverlayEntries: number;
  /** Hard size limit of one encoded placement message. */
  readonly maxMessageBytes: number;
  /** Bound on peer / host lists carried in a message (avoid, exclude). */
  readonly maxListedPeers: number;
  /** Bound on placements this node coordinates at once (as owner or contact); beyond it, new ones are refused. */
  readonly maxActivePlacements: number;
}

export const defaultPlacementOptions: PlacementOptions = Object.freeze({
  // 1: a uniform pick among the top candidates. Measured in the in-process cluster (48 hosts,
  // 4 cells, 200 ms view staleness, 60–80% load, 16 seeds): d=1 of 6 gave 0.11 retries/request
  // against 0.15 for d=2 of 4, at the same packing (1.04–1.09 of best-fit). Collisions between
  // coordinators with the same stale view dominate retries, and d=2 concentrates them on the best host.
  choices: 1,
  // 6 best-scoring feasible hosts: enough spread to break herds; binpack's rule of never drawing
  // an empty host while a used one is a candidate keeps the packing (see HostSelector).
  topK: 6,
  // 1.0 (a whole host's worth of fullness): policy scores lie in [0, 1], so this only drops
  // candidates that label preferences put far below the best.
  scoreSlack: 1,
  // 5 asks: 2 in the own cell plus 3 routed cells; at 80% load the mean is ~1.05 asks.
  maxAsks: 5,
  // 2: one stale-view miss is common, two in a row means the cell is effectively full.
  maxOwnCellAsks: 2,
  // 2: a contact retries once inside its cell; more would stretch the caller's route timeout.
  contactMaxAsks: 2,
  // 2000 ms: an admission is one synced level write (a few ms) plus a LAN round trip; the margin
  // covers a host whose event loop or disk is busy (seen: 1 s timeouts on a loaded 2-core box
  // running 10 agents), because a timeout is ambiguous and costs an epoch bump and a retry.
  admitTimeoutMs: 2_000,
  // 5000 ms: contactMaxAsks admit round trips plus the two extra hops through the contact.
  routeTimeoutMs: 5_000,
  // 15 s: a bound on the whole attempt; the caller's p99 target is 250 ms, so this only ends stuck ones.
  attemptDeadlineMs: 15_000,
  // 2000 ms: the ack is one or two hops; a silent owner is most likely dead, so fail over soon,
  // but not on a merely busy one (its resend would be a duplicate submit).
  submitAckTimeoutMs: 2_000,
  // 18 s: attemptDeadlineMs plus margin for the owner's answer and its binding write.
  submitResultTimeoutMs: 18_000,
  // 3 owners: the owner and two rendezvous successors; more only while membership churns.
  submitMaxTries: 3,
  // 3 hops: entry → contact → owner needs 2, entry → relay → contact → owner 3 (a cell not
  // heard of yet at the entry); within the key's cell 4 more are allowed (placement-node.ts).
  maxForwardHops: 3,
  // 600 s: twice the longest gossip summary heartbeat (the `large` profile's 300 s). A cell
  // reissues its summary on every significant change of free capacity and at each heartbeat,
  // so a quiet cell's summary is up to a heartbeat old and still right; gossip itself drops a
  // summary after summaryTtlMs. 30 s left routers blind to most cells of a 10k-host cluster
  // (simulations/README.md: 61,934 refusals with capacity free vs 16,751 at 600 s).
  maxSummaryAgeMs: 600_000,
  // 0.25: a maybe-fit cell is tried, but four times less often than a cell with one sure fit.
  weakCellWeight: 0.25,
  // 3 s: the freshness target for capacity seen by routers; by then gossip carries the change.
  overlayTtlMs: 3_000,
  // 1024 hosts: more than a cell; each entry is ~100 bytes.
  maxOverlayEntries: 1_024,
  // 64 KiB: a job spec is at most a few KiB in practice; the limit stops abuse, not jobs.
  maxMessageBytes: 64 * 1024,
  // 32 peers: more than maxAsks × contactMaxAsks, the most a placement can try.
  maxListedPeers: 32,
  // 4096: a coordinator holds ~1 KiB per placement; beyond this the node is overloaded and says so.
  maxActivePlacements: 4_096,
});

const POSITIVE_INTEGERS: readonly (keyof PlacementOptions)[] = [
  'choices',
  'topK',
  'maxAsks',
  'contactMaxAsks',
  'submitMaxTries',
  'maxForwardHops',
  'maxOverlayEntries',
  'maxMessageBytes',
  'maxListedPeers',
  'maxActivePlacements',
];
const NON_NEGATIVE: readonly (keyof PlacementOptions)[] = ['maxOwnCellAsks', 'weakCellWeight', 'overlayTtlMs', 'scoreSlack'];
const POSITIVE_DURATIONS: readonly (keyof PlacementOptions)[] = [
  'admitTimeoutMs',
  'routeTimeoutMs',
  'attemptDeadlineMs',
  'submitAckTimeoutMs',
  'submitResultTimeoutMs',
  'maxSummaryAgeMs',
];

/** Defaults overlaid with `partial`; throws PLACEMENT_INVALID_OPTIONS naming the bad field. */
export function placementOptions(partial: Partial<PlacementOptions> = {}): PlacementOptions {
  const opts: PlacementOptions = { ...defaultPlacementOptions, ...partial };
  for (const key of Object.keys(partial)) {
    if (!(key in defaultPlacementOptions)) {
      throw new PlacementError('PLACEMENT_INVALID_OPTIONS', `unknown placement option "${key}"`, { option: key });
    }
  }
  const bad = (key: string, want: string): never => {
    throw new PlacementError('PLACEMENT_INVALID_OPTIONS', `placement option ${key} must be ${want}, got ${String(opts[key as keyof PlacementOptions])}`, {
      option: key,
      value: opts[key as keyof PlacementOptions],
    });
  };
  for (const key of POSITIVE_INTEGERS) if (!Number.isInteger(opts[key]) || opts[key] < 1) bad(key, 'a positive integer');
  for (const key of NON_NEGATIVE) if (!Number.isFinite(opts[key]) || opts[key] < 0) bad(key, 'a non-negative number');
  for (const key of POSITIVE_DURATIONS) if (!Number.isFinite(opts[key]) || opts[key] <= 0) bad(key, 'a positive number of milliseconds');
  if (!Number.isInteger(opts.maxOwnCellAsks)) bad('maxOwnCellAsks', 'an integer');
  if (opts.choices > opts.topK) bad('choices', `at most topK (${opts.topK})`);
  return Object.freeze(opts);
}
