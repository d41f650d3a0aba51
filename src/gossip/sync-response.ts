import { ShoalError } from '../core/errors.ts';
import type { Encoded } from '../core/protocol.ts';
import { encodeSyncResp } from './codec.ts';
import type { SyncMember, SyncRespMsg } from './messages.ts';
import type { CellSummary } from './records.ts';
import { heapKey } from './summary-store.ts';

/** Cursor of a light answer: "not served here, ask the contacts of your cell". */
export const SYNC_ASK_ELSEWHERE = -2;

export interface SyncAnswer {
  readonly cluster: string;
  readonly cellBits: number;
  readonly estimatedSize: number;
  readonly cell: number;
  readonly members: readonly SyncMember[];
  readonly inSync: boolean;
  readonly announced: boolean;
  readonly page: { readonly summaries: readonly CellSummary[]; readonly next: number };
}

/**
 * Encodes a sync answer within MESSAGE_LIMITS['sync-resp']: when it is too big, the page
 * of summaries is halved first (the requester pages on from the new cursor), then the
 * members (anti-entropy will bring the rest). Bounded: at most log2 of each list.
 */
export function encodeSyncAnswer(a: SyncAnswer): Encoded<SyncRespMsg> {
  let members = a.members;
  let page = a.page;
  for (;;) {
    try {
      return encodeSyncResp({
        cluster: a.cluster,
        cellBits: a.cellBits,
        estimatedSize: Math.round(a.estimatedSize),
        cell: a.cell,
        members,
        summaries: page.summaries,
        nextCursor: page.next,
        inSync: a.inSync,
        announced: a.announced,
      });
    } catch (err) {
      if (!(err instanceof ShoalError) || err.code !== 'GOSSIP_TOO_LARGE') throw err;
      if (page.summaries.length > 1) {
        const half = page.summaries.slice(0, page.summaries.length >>> 1);
        const last = half[half.length - 1]!;
        page = { summaries: half, next: heapKey(last.cellBits, last.cell) };
      } else if (members.length > 1) {
        members = members.slice(0, members.length >>> 1);
      } else {
        throw err;
      }
    }
  }
}
