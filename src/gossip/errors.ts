import { ShoalError } from '../core/errors.ts';
import type { Verdict } from '../core/transport.ts';

/**
 * Why a gossip message was refused. `reject` means only a broken or malicious sender could
 * have produced it (gossipsub penalises the peer that handed it to us); `ignore` means a
 * healthy peer can produce it too (a late copy, a view that lags by one cell split), so it
 * is dropped quietly. Either way it is neither applied nor forwarded.
 */
export const GOSSIP_REASONS = [
  'GOSSIP_TOO_LARGE',
  'GOSSIP_CHECKSUM',
  'GOSSIP_BAD_VERSION',
  'GOSSIP_BAD_TYPE',
  'GOSSIP_SCHEMA',
  'GOSSIP_BOUNDS',
  'GOSSIP_WRONG_TOPIC',
  'GOSSIP_WRONG_CLUSTER',
  'GOSSIP_ORIGIN_MISMATCH',
  'GOSSIP_WRONG_CELL',
  'GOSSIP_STALE',
  'GOSSIP_FUTURE',
  'GOSSIP_UNKNOWN_TOPIC',
  'GOSSIP_UNKNOWN_MEMBER',
  'GOSSIP_INTERNAL',
] as const;
export type GossipReason = (typeof GOSSIP_REASONS)[number];

export type GossipAction = 'reject' | 'ignore';

export class GossipValidationError extends ShoalError<GossipReason> {
  readonly action: GossipAction;

  constructor(action: GossipAction, code: GossipReason, message: string, details: Record<string, unknown> = {}) {
    super(code, message, details);
    this.name = 'GossipValidationError';
    this.action = action;
  }
}

export function rejectMsg(code: GossipReason, message: string, details?: Record<string, unknown>): GossipValidationError {
  return new GossipValidationError('reject', code, message, details);
}

export function ignoreMsg(code: GossipReason, message: string, details?: Record<string, unknown>): GossipValidationError {
  return new GossipValidationError('ignore', code, message, details);
}

/** Per-reason counts; a plain object so the CLI can print it and tests can read it. */
export type ReasonCounts = Record<GossipReason, number>;

export function emptyReasonCounts(): ReasonCounts {
  const out = {} as ReasonCounts;
  for (const r of GOSSIP_REASONS) out[r] = 0;
  return out;
}

/** Where refusals are counted: the node's counters and, when present, its metrics. */
export interface RefusalSink {
  refused(reason: GossipReason, action: GossipAction): void;
}

/**
 * The one place validation errors become gossipsub verdicts (lodestar's
 * gossipValidatorFn). An error that is not a GossipValidationError is a bug on our side,
 * not the sender's: it is counted as GOSSIP_INTERNAL and ignored, never thrown.
 */
export function verdictOf(err: unknown, sink: RefusalSink | null): Verdict {
  if (err instanceof GossipValidationError) {
    sink?.refused(err.code, err.action);
    return err.action;
  }
  sink?.refused('GOSSIP_INTERNAL', 'ignore');
  return 'ignore';
}
