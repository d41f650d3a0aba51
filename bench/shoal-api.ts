import { Agent, request } from 'undici';
import { ShoalError } from '../src/core/index.ts';

/**
 * The bench's client of one Shoal agent's HTTP API over its Unix socket (undici, keep-alive).
 * Answers come back with their status; only transport failures throw.
 */
export class ShoalApi {
  readonly socketPath: string;
  readonly timeoutMs: number;
  readonly #dispatcher: Agent;

  constructor(opts: { socketPath: string; timeoutMs: number; connections?: number }) {
    this.socketPath = opts.socketPath;
    this.timeoutMs = opts.timeoutMs;
    this.#dispatcher = new Agent({ connect: { socketPath: opts.socketPath }, connections: opts.connections ?? 4, pipelining: 1 });
  }

  async call(method: 'GET' | 'POST' | 'DELETE', path: string, body?: unknown): Promise<{ status: number; text: string }> {
    try {
      const res = await request(`http://shoal${path}`, {
        method,
        dispatcher: this.#dispatcher,
        headers: body === undefined ? {} : { 'content-type': 'application/json' },
        body: body === undefined ? undefined : JSON.stringify(body),
        headersTimeout: this.timeoutMs,
        bodyTimeout: this.timeoutMs,
      });
      return { status: res.statusCode, text: await res.body.text() };
    } catch (err) {
      throw new ShoalError('BENCH_SHOAL_API', `${method} ${path} on ${this.socketPath}: ${(err as Error).message}`, { path }, { cause: err });
    }
  }

  /** GET/POST expecting a 2xx JSON answer; anything else is a BENCH_SHOAL_API error quoting the agent's error. */
  async json<T>(method: 'GET' | 'POST', path: string, body?: unknown): Promise<T> {
    const r = await this.call(method, path, body);
    if (r.status < 200 || r.status >= 300) {
      throw new ShoalError('BENCH_SHOAL_API', `${method} ${path} on ${this.socketPath}: HTTP ${r.status}: ${r.text.slice(0, 300)}`, { status: r.status });
    }
    return JSON.parse(r.text) as T;
  }

  async close(): Promise<void> {
    await this.#dispatcher.close().catch(() => undefined);
  }
}
