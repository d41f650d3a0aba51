import { setFlagsFromString } from 'node:v8';

let tuned = false;

/**
 * V8 runs a full mark-compact each time ~64 MB of typed-array memory (outside the JS heap)
 * has been allocated since the last one, whatever the heap's size. The protocol encodes
 * every message into a fresh Uint8Array (sync answers are ~20 KB), so a 100k-host cold start
 * allocated hundreds of MB/s of them, and with 2–4 GB of live hosts each of those collections
 * took ~3 s: 60% of the run was GC. Counting that memory in V8's global limit, which grows
 * with the heap, leaves collections to the heap's own growth (a 2.5 GB heap allocating 2 GB
 * of 20 KB arrays: 12 s → 0.6 s). Only GC pacing changes; nothing observable by the protocol.
 */
export function tuneHeapForSimulation(): void {
  if (tuned) return;
  tuned = true;
  setFlagsFromString('--external-memory-accounted-in-global-limit');
}
