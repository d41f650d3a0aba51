import { ShoalError } from '../core/errors.ts';

/** 0 ok, 1 error, 2 the job could not be placed (capacity or constraints). */
export const EXIT_OK = 0;
export const EXIT_ERROR = 1;
export const EXIT_UNPLACEABLE = 2;

export function exitCodeFor(err: unknown): number {
  return err instanceof ShoalError && err.code === 'JOB_UNPLACEABLE' ? EXIT_UNPLACEABLE : EXIT_ERROR;
}
