/**
 * The node's named timers: one table of deadlines (ms, or Infinity when unset) that the node
 * and its parts each write their own slots of. The driver asks for the earliest deadline after
 * every step; one array of plain doubles is one read (in a 100k-host simulation every object
 * touched per step is a likely cache miss), where a deadline field per part would be several.
 */
export const T_RECORD = 0; // own record: pending significant change or heartbeat
export const T_EVENTS = 1; // flush of queued member events
export const T_SUMMARY = 2; // cell reporter: recompute and maybe publish the summary
export const T_DIGEST = 3; // district reporter: maybe publish a digest
export const T_SYNC = 4; // anti-entropy push-pull
export const T_MAINT = 5; // cellBits, summary expiry, connections, metrics
export const T_TRANSITION = 6; // leave the old cell topic after a change of cellBits
export const T_FALLBACK = 7; // accusations the aggregator did not act on
export const T_JOIN = 8; // join retries through the seeds
export const T_RECONNECT = 9; // push-pull with a member held failed (a healed partition)
export const T_REPAIR = 10; // fetch the summaries of a district we have gaps in
export const TIMER_COUNT = 11;

/** Plain doubles: their store sits in the JS heap by the array, where a Float64Array over 64 bytes keeps it in a separate allocation. */
export type Timers = number[];

export function newTimers(): Timers {
  return Array.from({ length: TIMER_COUNT }, () => Infinity);
}
