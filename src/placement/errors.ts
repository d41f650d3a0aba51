import { ShoalError } from '../core/errors.ts';

/**
 * Every placement failure code, with the HTTP status the API should map it to. Outcomes and
 * host rejections carry these codes as data; only decoding, options and snapshots throw.
 */
export const PLACEMENT_ERRORS = {
  /** Nothing in the cluster can take the job; the message counts the reasons. */
  PLACEMENT_NO_CAPACITY: 422,
  /** The idempotency key was already used with a different spec. */
  PLACEMENT_IDEMPOTENCY_CONFLICT: 409,
  /** A job id was reused with a different idempotency key (a bug or a forged request). */
  PLACEMENT_JOB_ID_CONFLICT: 409,
  /** Host rejection: not enough free capacity. */
  PLACEMENT_INSUFFICIENT_RESOURCES: 422,
  /** Host rejection: a job of the same anti-affinity group runs there. */
  PLACEMENT_ANTI_AFFINITY: 422,
  /** Host rejection: zone, labels, cluster or driver do not match. */
  PLACEMENT_CONSTRAINT_MISMATCH: 422,
  /** Host rejection: draining, degraded, or not a job host at all. */
  PLACEMENT_HOST_UNAVAILABLE: 503,
  /** No answer in time; the job may or may not have been placed (ask again with the same key). */
  PLACEMENT_TIMEOUT: 504,
  /** No owner for the idempotency key could be reached. */
  PLACEMENT_OWNER_UNREACHABLE: 503,
  /** This node coordinates too many placements already. */
  PLACEMENT_OVERLOADED: 503,
  /** A request that fails its own invariants (negative resources, empty key). */
  PLACEMENT_BAD_REQUEST: 400,
  PLACEMENT_MESSAGE_TOO_LARGE: 413,
  PLACEMENT_MALFORMED_MESSAGE: 400,
  PLACEMENT_UNSUPPORTED_VERSION: 400,
  PLACEMENT_INVALID_MESSAGE: 400,
  PLACEMENT_INVALID_OPTIONS: 500,
  PLACEMENT_INVALID_SNAPSHOT: 500,
  PLACEMENT_INVALID_JOB_ID: 400,
} as const;

export type PlacementErrorCode = keyof typeof PLACEMENT_ERRORS;

export class PlacementError extends ShoalError<PlacementErrorCode> {
  constructor(code: PlacementErrorCode, message: string, details: Record<string, unknown> = {}, options?: { cause?: unknown }) {
    super(code, message, details, options);
    this.name = 'PlacementError';
  }
}

export function httpStatusOf(code: PlacementErrorCode): number {
  return PLACEMENT_ERRORS[code];
}
