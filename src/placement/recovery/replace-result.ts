import type { PeerIdStr } from '../../core/transport.ts';
import type { SubmitOutcome } from '../messages.ts';
import type { ReplaceResult } from './evacuation.ts';

/** Codes after which trying again cannot help: the key no longer belongs to this job. */
const ABANDON_CODES: ReadonlySet<string> = new Set(['PLACEMENT_IDEMPOTENCY_CONFLICT', 'PLACEMENT_JOB_ID_CONFLICT', 'PLACEMENT_BAD_REQUEST']);

/** Maps a re-placement's outcome (`PlacementNode.replace`) to what the evacuator does next. */
export function replaceResultOf(outcome: SubmitOutcome, fromHost: PeerIdStr): ReplaceResult {
  if (outcome.type === 'placed') {
    // The owner never re-places onto the old host; a binding naming it means a newer copy there we never saw.
    if (outcome.host === fromHost) return { type: 'retry', reason: `the key owner still places job ${outcome.jobId} on ${fromHost} (epoch ${outcome.epoch})` };
    return { type: 'replaced', host: outcome.host, epoch: outcome.epoch };
  }
  if (outcome.type === 'failed' && ABANDON_CODES.has(outcome.code)) return { type: 'abandon', reason: `${outcome.code}: ${outcome.message}` };
  return { type: 'retry', reason: outcome.type === 'refused' ? outcome.message : `${outcome.code}: ${outcome.message}` };
}
