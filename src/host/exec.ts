import { execFile } from 'node:child_process';
import type { CallScope } from './call-scope.ts';
import { DriverError } from './driver-errors.ts';

export interface CommandResult {
  readonly stdout: string;
  readonly stderr: string;
}

export interface RunCommandOptions {
  /** Bytes of stdout/stderr kept; a command printing more fails rather than eat memory. */
  readonly maxBufferBytes?: number;
  readonly env?: NodeJS.ProcessEnv;
}

/** Default output cap: `virsh dumpxml` of a large domain is a few tens of KB. */
const DEFAULT_MAX_BUFFER_BYTES = 4 * 1024 * 1024;

/**
 * Runs an external command within a call scope. A non-zero exit becomes
 * DRIVER_COMMAND_FAILED carrying the command's own stderr; cancellation kills it.
 */
export function runCommand(file: string, args: readonly string[], scope: CallScope, opts: RunCommandOptions = {}): Promise<CommandResult> {
  scope.check();
  return new Promise((resolve, reject) => {
    execFile(
      file,
      args,
      {
        signal: scope.signal,
        killSignal: 'SIGKILL',
        maxBuffer: opts.maxBufferBytes ?? DEFAULT_MAX_BUFFER_BYTES,
        env: opts.env ?? process.env,
        encoding: 'utf8',
      },
      (err, stdout, stderr) => {
        if (!err) {
          resolve({ stdout, stderr });
          return;
        }
        if (scope.signal.aborted) {
          reject(scope.abortError());
          return;
        }
        const e = err as NodeJS.ErrnoException & { code?: string | number };
        if (e.code === 'ENOENT') {
          reject(new DriverError('DRIVER_UNAVAILABLE', `${scope.what}: ${file} is not installed`, { command: file }, err));
          return;
        }
        const message = firstLines(stderr) || firstLines(stdout) || e.message;
        reject(
          new DriverError(
            'DRIVER_COMMAND_FAILED',
            `${scope.what}: ${message}`,
            { command: file, args: [...args], exitCode: typeof e.code === 'number' ? e.code : undefined, stderr: stderr.trim() },
            err,
          ),
        );
      },
    );
  });
}

/** The first few lines of a command's output, for an error message; the rest stays in details. */
function firstLines(text: string, max = 4): string {
  return text
    .trim()
    .split('\n')
    .filter((l) => l.trim() !== '')
    .slice(0, max)
    .join('; ');
}
