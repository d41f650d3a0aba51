import { Agent as Dispatcher, request } from 'undici';
import { ShoalError } from '../core/errors.ts';
import { defaultPaths } from '../config/paths.ts';

/**
 * A thin client over the agent's API. Addresses are `unix:///path/to/shoal.sock` or
 * `http://host:port`; the default is `$SHOAL_ADDR`, else the default socket path.
 */

export class ApiError extends ShoalError {
  readonly status: number;

  constructor(status: number, code: string, message: string, details: Record<string, unknown>) {
    super(code, message, details);
    this.name = 'ApiError';
    this.status = status;
  }
}

export interface ClientOptions {
  address?: string;
  timeoutMs?: number;
}

export function resolveAddress(address: string | undefined, env = process.env): { origin: string; socketPath?: string; display: string } {
  const addr = address ?? env.SHOAL_ADDR ?? `unix://${defaultPaths().socket}`;
  if (addr.startsWith('unix://')) {
    const socketPath = addr.slice('unix://'.length);
    if (!socketPath) throw new ShoalError('CLI_BAD_ADDRESS', `address "${addr}" has no socket path (expected unix:///path/to/shoal.sock)`);
    return { origin: 'http://localhost', socketPath, display: addr };
  }
  if (/^https?:\/\//.test(addr)) return { origin: addr.replace(/\/$/, ''), display: addr };
  throw new ShoalError('CLI_BAD_ADDRESS', `address "${addr}" must start with unix:// or http://`);
}

export class ShoalClient {
  private readonly origin: string;
  private readonly dispatcher: Dispatcher;
  private readonly display: string;
  private readonly timeoutMs: number;

  constructor(opts: ClientOptions = {}) {
    const resolved = resolveAddress(opts.address);
    this.origin = resolved.origin;
    this.display = resolved.display;
    this.timeoutMs = opts.timeoutMs ?? 30_000;
    this.dispatcher = new Dispatcher(resolved.socketPath ? { connect: { socketPath: resolved.socketPath } } : {});
  }

  async call<T = unknown>(method: 'GET' | 'POST' | 'DELETE', path: string, body?: unknown): Promise<{ status: number; data: T; headers: Readonly<Record<string, string | string[] | undefined>> }> {
    let res;
    try {
      res = await request(`${this.origin}${path}`, {
        method,
        dispatcher: this.dispatcher,
        headers: body === undefined ? {} : { 'content-type': 'application/json' },
        body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
        headersTimeout: this.timeoutMs,
        bodyTimeout: this.timeoutMs,
      });
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      const hint = code === 'ENOENT' || code === 'ECONNREFUSED' ? ' (is the agent running? start it with `shoal agent`)' : '';
      throw new ShoalError('CLI_UNREACHABLE', `cannot reach the agent at ${this.display}: ${(err as Error).message}${hint}`, { code });
    }
    const text = await res.body.text();
    let data: unknown;
    try {
      data = text ? JSON.parse(text) : undefined;
    } catch {
      data = text;
    }
    if (res.statusCode >= 400) {
      const e = (data as { error?: { code?: string; message?: string; details?: Record<string, unknown> } } | undefined)?.error;
      throw new ApiError(res.statusCode, e?.code ?? 'API_ERROR', e?.message ?? `HTTP ${res.statusCode}`, e?.details ?? {});
    }
    return { status: res.statusCode, data: data as T, headers: res.headers };
  }

  /** Streams NDJSON lines until the server ends the response or the signal aborts. */
  async *stream(path: string, signal?: AbortSignal): AsyncGenerator<unknown> {
    const res = await request(`${this.origin}${path}`, { method: 'GET', dispatcher: this.dispatcher, signal, bodyTimeout: 0 });
    let buffered = '';
    for await (const chunk of res.body) {
      buffered += chunk.toString();
      let nl: number;
      while ((nl = buffered.indexOf('\n')) >= 0) {
        const line = buffered.slice(0, nl);
        buffered = buffered.slice(nl + 1);
        if (line.trim()) yield JSON.parse(line);
      }
    }
  }

  async close(): Promise<void> {
    await this.dispatcher.close();
  }
}
