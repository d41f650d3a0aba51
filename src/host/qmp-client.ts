import { connect, type Socket } from 'node:net';
import { CallScope } from './call-scope.ts';
import { DriverError } from './driver-errors.ts';
import type { DriverCallOptions } from './driver.ts';

/**
 * A small QMP (QEMU Machine Protocol) client over a unix socket, written against the
 * protocol spec (docs/interop/qmp-spec): the server greets, the client negotiates with
 * `qmp_capabilities`, then sends `{"execute", "arguments", "id"}` objects and receives
 * `{"return"|"error", "id"}` replies interleaved with `{"event"}` messages, one JSON object
 * per line.
 */

export interface QmpClientOptions {
  /** Longest line accepted from QEMU; a bigger one means a confused peer, so the connection is dropped. */
  maxLineBytes: number;
  /** Default bound for connect + greeting + capabilities negotiation. */
  connectTimeoutMs: number;
  /** Default bound for one command. query-status answers in well under a millisecond. */
  commandTimeoutMs: number;
}

export const defaultQmpClientOptions: QmpClientOptions = {
  maxLineBytes: 1024 * 1024, // 1 MiB: query replies for a small VM are a few KB
  connectTimeoutMs: 5_000, // 5 s: a busy host can be slow to accept, but a live QEMU greets at once
  commandTimeoutMs: 10_000, // 10 s: covers commands that wait on the guest or on I/O
};

export interface QmpGreeting {
  readonly version: { readonly qemu: { readonly major: number; readonly minor: number; readonly micro: number }; readonly package: string };
  readonly capabilities: readonly string[];
}

export interface QmpEvent {
  readonly event: string;
  readonly data?: Record<string, unknown>;
  readonly timestamp?: { readonly seconds: number; readonly microseconds: number };
}

interface Pending {
  readonly command: string;
  resolve(value: unknown): void;
  reject(err: unknown): void;
}

type EventListener = (ev: QmpEvent) => void;

export class QmpClient {
  readonly socketPath: string;
  /** Resolves when the connection is gone (QEMU exited, or close() was called). */
  readonly closed: Promise<void>;
  private readonly opts: QmpClientOptions;
  private readonly socket: Socket;
  private readonly pending = new Map<number, Pending>();
  private readonly listeners = new Set<EventListener>();
  private buffer = '';
  private nextId = 1;
  private isClosed = false;
  private greetingValue: QmpGreeting | undefined;
  private greetingWaiter: { resolve(g: QmpGreeting): void; reject(err: unknown): void } | undefined;
  private resolveClosed!: () => void;

  private constructor(socketPath: string, socket: Socket, opts: QmpClientOptions) {
    this.socketPath = socketPath;
    this.socket = socket;
    this.opts = opts;
    this.closed = new Promise((resolve) => (this.resolveClosed = resolve));
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => this.onData(chunk));
    socket.on('error', (err) => this.onClose(err));
    socket.on('close', () => this.onClose());
  }

  /** Connects, reads the greeting and leaves negotiation mode. */
  static async connect(socketPath: string, callOpts: DriverCallOptions = {}, opts: QmpClientOptions = defaultQmpClientOptions): Promise<QmpClient> {
    const scope = new CallScope(`QMP connect ${socketPath}`, callOpts, opts.connectTimeoutMs);
    scope.check();
    const socket = connect(socketPath);
    const client = new QmpClient(socketPath, socket, opts);
    const onAbort = (): void => client.close();
    scope.signal.addEventListener('abort', onAbort, { once: true });
    try {
      await new Promise<void>((resolve, reject) => {
        socket.once('connect', () => resolve());
        socket.once('error', (err) => reject(err));
        socket.once('close', () => reject(new Error('closed before connect')));
      });
      await client.greeting();
      await client.execute('qmp_capabilities', undefined, { signal: scope.signal, timeoutMs: scope.remainingMs() });
      return client;
    } catch (err) {
      client.close();
      if (scope.signal.aborted) throw scope.abortError();
      if (err instanceof DriverError) throw err;
      const e = err as NodeJS.ErrnoException;
      throw new DriverError('DRIVER_QMP_UNREACHABLE', `cannot reach QMP at ${socketPath}: ${e.code ?? e.message}`, { socketPath, errno: e.code }, err);
    } finally {
      scope.signal.removeEventListener('abort', onAbort);
    }
  }

  /** The server's greeting (QEMU version, capabilities). */
  greeting(): Promise<QmpGreeting> {
    if (this.greetingValue) return Promise.resolve(this.greetingValue);
    if (this.isClosed) return Promise.reject(this.closedError('greeting'));
    return new Promise((resolve, reject) => (this.greetingWaiter = { resolve, reject }));
  }

  /** Runs one command; rejects with DRIVER_QMP_ERROR carrying QEMU's error class and description. */
  execute<T = unknown>(command: string, args?: Record<string, unknown>, callOpts: DriverCallOptions = {}): Promise<T> {
    const scope = new CallScope(`QMP ${command}`, callOpts, this.opts.commandTimeoutMs);
    if (scope.signal.aborted) return Promise.reject(scope.abortError());
    if (this.isClosed) return Promise.reject(this.closedError(command));
    const id = this.nextId++;
    return new Promise<T>((resolve, reject) => {
      const onAbort = (): void => {
        this.pending.delete(id);
        reject(scope.abortError());
      };
      scope.signal.addEventListener('abort', onAbort, { once: true });
      this.pending.set(id, {
        command,
        resolve: (v) => {
          scope.signal.removeEventListener('abort', onAbort);
          resolve(v as T);
        },
        reject: (e) => {
          scope.signal.removeEventListener('abort', onAbort);
          reject(e);
        },
      });
      const msg = args === undefined ? { execute: command, id } : { execute: command, arguments: args, id };
      this.socket.write(`${JSON.stringify(msg)}\n`);
    });
  }

  /** Subscribes to asynchronous events; returns the unsubscribe function. */
  onEvent(listener: EventListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Resolves with the next event named `name`; rejects on timeout, abort or close. */
  waitForEvent(name: string, callOpts: DriverCallOptions = {}): Promise<QmpEvent> {
    const scope = new CallScope(`QMP wait for ${name}`, callOpts, this.opts.commandTimeoutMs);
    if (scope.signal.aborted) return Promise.reject(scope.abortError());
    return new Promise((resolve, reject) => {
      const done = (): void => {
        off();
        scope.signal.removeEventListener('abort', onAbort);
      };
      const off = this.onEvent((ev) => {
        if (ev.event !== name) return;
        done();
        resolve(ev);
      });
      const onAbort = (): void => {
        done();
        reject(scope.abortError());
      };
      scope.signal.addEventListener('abort', onAbort, { once: true });
      void this.closed.then(() => {
        done();
        reject(this.closedError(`wait for ${name}`));
      });
    });
  }

  get connected(): boolean {
    return !this.isClosed;
  }

  close(): void {
    if (!this.isClosed) this.socket.destroy();
    this.onClose();
  }

  private onData(chunk: string): void {
    this.buffer += chunk;
    let nl: number;
    while ((nl = this.buffer.indexOf('\n')) >= 0) {
      const line = this.buffer.slice(0, nl).trim();
      this.buffer = this.buffer.slice(nl + 1);
      if (line !== '') this.onLine(line);
    }
    if (this.buffer.length > this.opts.maxLineBytes) {
      this.onClose(new DriverError('DRIVER_QMP_ERROR', `QMP line longer than ${this.opts.maxLineBytes} bytes from ${this.socketPath}`));
      this.socket.destroy();
    }
  }

  private onLine(line: string): void {
    let msg: Record<string, unknown>;
    try {
      msg = JSON.parse(line) as Record<string, unknown>;
    } catch {
      // QEMU only speaks JSON here; a garbled line is dropped rather than killing the session.
      return;
    }
    if ('QMP' in msg) {
      this.greetingValue = msg.QMP as QmpGreeting;
      this.greetingWaiter?.resolve(this.greetingValue);
      this.greetingWaiter = undefined;
      return;
    }
    if (typeof msg.event === 'string') {
      const ev = msg as unknown as QmpEvent;
      for (const l of this.listeners) l(ev);
      return;
    }
    const id = msg.id;
    if (typeof id !== 'number') return;
    const p = this.pending.get(id);
    if (!p) return; // a reply to a command whose caller gave up
    this.pending.delete(id);
    if ('error' in msg) {
      const e = (msg.error ?? {}) as { class?: string; desc?: string };
      p.reject(new DriverError('DRIVER_QMP_ERROR', `QMP ${p.command}: ${e.desc ?? 'error'}`, { command: p.command, class: e.class, desc: e.desc }));
    } else {
      p.resolve(msg.return);
    }
  }

  private onClose(err?: unknown): void {
    if (this.isClosed) return;
    this.isClosed = true;
    for (const [id, p] of this.pending) {
      this.pending.delete(id);
      p.reject(this.closedError(p.command, err));
    }
    this.greetingWaiter?.reject(this.closedError('greeting', err));
    this.greetingWaiter = undefined;
    this.resolveClosed();
  }

  private closedError(what: string, cause?: unknown): DriverError {
    return new DriverError('DRIVER_QMP_UNREACHABLE', `QMP ${what}: connection to ${this.socketPath} closed`, { socketPath: this.socketPath }, cause);
  }
}
