/**
 * Errors as data: every failure Shoal reports has a stable `code`, prefixed by its domain
 * (`JOB_`, `CONFIG_`, `GOSSIP_`, `DRIVER_`, …), and structured `details`. The API maps codes
 * to HTTP statuses in one place (`src/api/errors.ts`).
 */
export class ShoalError<Code extends string = string> extends Error {
  readonly code: Code;
  readonly details: Record<string, unknown>;

  constructor(code: Code, message: string, details: Record<string, unknown> = {}, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'ShoalError';
    this.code = code;
    this.details = details;
  }
}

export function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
