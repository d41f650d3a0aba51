import type { PeerIdStr } from '../../core/transport.ts';

/**
 * Fencing: a host holding a copy of a job stops it when an authority says the job lives
 * elsewhere. Authorities are the key owner's binding (`locate`) and the outcomes an evacuator
 * left with the host's replica holders. Epochs order placements of one job: every
 * re-placement runs at a higher epoch than the copy it replaces.
 */

/** Where an authority says the job lives. `placing`: a move is under way, its outcome unknown. */
export interface JobLocation {
  readonly host: PeerIdStr | null;
  readonly epoch: number;
  readonly state: 'placing' | 'placed';
}

/** The local copy. */
export interface LocalCopy {
  readonly host: PeerIdStr;
  readonly epoch: number;
}

export type FenceVerdict =
  /** The authority agrees, knows nothing newer, or is itself stale: keep running. */
  | { readonly type: 'keep' }
  /** The job was placed elsewhere at this epoch or later: stop the local copy. */
  | { readonly type: 'fence'; readonly host: PeerIdStr; readonly epoch: number }
  /** A move is in flight: decide on the next check (the move may still fail and come back here). */
  | { readonly type: 'wait' };

const KEEP: FenceVerdict = Object.freeze({ type: 'keep' });
const WAIT: FenceVerdict = Object.freeze({ type: 'wait' });

/**
 * Fence when a placed binding names another host at an epoch at least the local one: a higher
 * epoch is a re-placement; an equal one on another host is the loser of a race between two
 * owners, and the binding picks the winner. A lower epoch elsewhere is a stale binding (an
 * owner that came back with old state): keep, never fence on old news.
 */
export function fenceVerdict(local: LocalCopy, authority: JobLocation | null): FenceVerdict {
  if (authority === null) return KEEP;
  if (authority.state === 'placing') return authority.epoch > local.epoch ? WAIT : KEEP;
  if (authority.host === null || authority.host === local.host) return KEEP;
  if (authority.epoch >= local.epoch) return { type: 'fence', host: authority.host, epoch: authority.epoch };
  return KEEP;
}
