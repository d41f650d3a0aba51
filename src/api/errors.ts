import { ShoalError } from '../core/errors.ts';
import { PLACEMENT_ERRORS, type PlacementErrorCode } from '../placement/errors.ts';
import { FEDERATION_ERRORS, type FederationErrorCode } from '../federation/errors.ts';

/**
 * The error catalogue: every error the API returns, with its HTTP status. The body is
 * always `{"error": {"code", "message", "details"}}`. Codes are stable; messages may improve.
 */
export const API_ERRORS = {
  API_INVALID_JSON: { status: 400, doc: 'The body is not valid JSON.' },
  API_UNSUPPORTED_MEDIA_TYPE: { status: 415, doc: 'The body is not application/json.' },
  API_BODY_TOO_LARGE: { status: 413, doc: 'The body exceeds agent.max_body_bytes.' },
  API_NOT_FOUND: { status: 404, doc: 'No such route.' },
  API_BAD_REQUEST: { status: 400, doc: 'A query parameter or path parameter is invalid.' },
  JOB_INVALID_SPEC: { status: 400, doc: 'The job spec failed validation; details.issues lists each field path.' },
  JOB_NOT_FOUND: { status: 404, doc: 'No job with that id is known.' },
  JOB_IDEMPOTENCY_CONFLICT: { status: 409, doc: 'The idempotency key was already used with a different spec.' },
  JOB_UNPLACEABLE: { status: 422, doc: 'No host can run the job (capacity or constraints); details counts the reasons.' },
  JOB_PLACEMENT_FAILED: { status: 503, doc: 'Placement could not reach a decision (hosts unreachable); nothing was created.' },
  STORE_WRITE_FAILED: { status: 507, doc: 'The store could not persist the change (disk full, I/O error); nothing was accepted.' },
  AGENT_SHUTTING_DOWN: { status: 503, doc: 'The agent is stopping and takes no new work.' },
  AGENT_JOIN_FAILED: { status: 502, doc: 'None of the given peers could be reached.' },
  USAGE_UNAVAILABLE: { status: 503, doc: 'This agent runs without usage metering (GET /v1/usage).' },
  INTERNAL: { status: 500, doc: 'A bug: the agent logged the details.' },
} as const;

export type ApiErrorCode = keyof typeof API_ERRORS;

export interface ErrorBody {
  error: { code: string; message: string; details: Record<string, unknown> };
}

/** Status for any ShoalError code; unknown codes of other domains map by prefix, then to 500. */
export function statusFor(code: string): number {
  if (code in API_ERRORS) return API_ERRORS[code as ApiErrorCode].status;
  if (code in PLACEMENT_ERRORS) return PLACEMENT_ERRORS[code as PlacementErrorCode];
  // Federation codes (403 denied, 404 unknown cluster, 503 no gateway, …) are catalogued in src/federation/errors.ts.
  if (code in FEDERATION_ERRORS) return FEDERATION_ERRORS[code as FederationErrorCode];
  if (code.startsWith('CONFIG_')) return 400;
  if (code.startsWith('NET_')) return 502;
  return 500;
}

export function errorBody(code: string, message: string, details: Record<string, unknown> = {}): ErrorBody {
  return { error: { code, message, details } };
}

export function apiError(code: ApiErrorCode, message: string, details: Record<string, unknown> = {}): ShoalError<ApiErrorCode> {
  return new ShoalError(code, message, details);
}
