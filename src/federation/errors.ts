import { ShoalError } from '../core/errors.ts';

/**
 * Every federation failure, with the HTTP status the API maps it to. Codes are stable;
 * gateways carry them across clusters as data, so the caller in cluster A sees the code
 * cluster B's gateway chose.
 */
export const FEDERATION_ERRORS = {
  /** The remote cluster's policy refuses this cluster or tenant. */
  FEDERATION_DENIED: 403,
  /** The remote cluster's quota for this cluster or tenant would be exceeded. */
  FEDERATION_QUOTA_EXCEEDED: 403,
  /** A peer outside the allowlist tried to talk to a gateway. */
  FEDERATION_NOT_ALLOWED: 403,
  /** `ID@cluster`, or `constraints.cluster`, names a cluster this one is not federated with. */
  FEDERATION_UNKNOWN_CLUSTER: 404,
  /** The job needs another cluster but this cluster has no gateways configured. */
  FEDERATION_NOT_CONFIGURED: 422,
  /** No gateway answered (local or remote); the job may exist: retry with the same idempotency key. */
  FEDERATION_UNAVAILABLE: 503,
  /** A global address (`ID@cluster`, `host@cluster`) does not parse. */
  FEDERATION_INVALID_ADDRESS: 400,
  /** A federation message failed its size, msgpack or schema check. */
  FEDERATION_BAD_MESSAGE: 400,
  /** Federation options are inconsistent. */
  FEDERATION_INVALID_OPTIONS: 500,
} as const;

export type FederationErrorCode = keyof typeof FEDERATION_ERRORS;

export class FederationError extends ShoalError<FederationErrorCode> {
  constructor(code: FederationErrorCode, message: string, details: Record<string, unknown> = {}, options?: { cause?: unknown }) {
    super(code, message, details, options);
    this.name = 'FederationError';
  }
}

export function isFederationCode(code: string): code is FederationErrorCode {
  return code in FEDERATION_ERRORS;
}
