import { connect, type Socket } from 'node:net';
import { Packr, UnpackrStream } from 'msgpackr';
import { ShoalError } from '../src/core/index.ts';

/**
 * A minimal client of Serf's agent RPC (the protocol `serf members` and `serf join` speak:
 * msgpack maps over TCP, a `{Command, Seq}` header, answered by a `{Seq, Error}` header and,
 * for some commands, a body). One persistent connection per agent lets the bench poll 32
 * agents every 100 ms without forking 320 `serf members` processes a second.
 */

export interface SerfMember {
  Name: string;
  Status: string;
  Port?: number;
  Tags?: Record<string, string>;
}

interface Pending {
  command: string;
  hasBody: boolean;
  resolve: (body: unknown) => void;
  reject: (err: Error) => void;
  header?: { Seq: number; Error: string };
  timer: NodeJS.Timeout;
}

const packr = new Packr({ useRecords: false, variableMapSize: true });
/** RPC version Serf 0.8 speaks. */
const RPC_VERSION = 1;

export class SerfRpcClient {
  readonly address: string;
  readonly timeoutMs: number;
  #socket: Socket | null = null;
  #seq = 0;
  #pending = new Map<number, Pending>();
  /** Headers arrive before their body; this is the request whose body comes next. */
  #awaitingBody: Pending | null = null;
  #closed = false;

  constructor(opts: { host: string; port: number; timeoutMs?: number }) {
    this.address = `${opts.host}:${opts.port}`;
    this.timeoutMs = opts.timeoutMs ?? 5000;
  }

  /** Connects and does the RPC handshake. */
  async open(): Promise<void> {
    const [host, port] = this.address.split(':') as [string, string];
    const socket = connect({ host, port: Number(port) });
    socket.setNoDelay(true);
    await new Promise<void>((resolve, reject) => {
      const t = setTimeout(() => {
        socket.destroy();
        reject(new ShoalError('BENCH_SERF_RPC', `connect to serf rpc ${this.address} timed out`));
      }, this.timeoutMs);
      socket.once('connect', () => {
        clearTimeout(t);
        resolve();
      });
      socket.once('error', (err) => {
        clearTimeout(t);
        reject(new ShoalError('BENCH_SERF_RPC', `connect to serf rpc ${this.address}: ${err.message}`, {}, { cause: err }));
      });
    });
    this.#socket = socket;
    const stream = new UnpackrStream({ useRecords: false, mapsAsObjects: true });
    socket.pipe(stream);
    stream.on('data', (value: unknown) => this.#onValue(value));
    socket.on('error', (err) => this.#failAll(err));
    socket.on('close', () => this.#failAll(new Error('connection closed')));
    await this.#call('handshake', { Version: RPC_VERSION }, false);
  }

  async members(): Promise<SerfMember[]> {
    const body = (await this.#call('members', undefined, true)) as { Members?: SerfMember[] };
    return body.Members ?? [];
  }

  /** Asks the agent to join `addrs` (`ip:port`); resolves with how many it reached. */
  async join(addrs: string[]): Promise<number> {
    const body = (await this.#call('join', { Existing: addrs, Replay: false }, true)) as { Num?: number };
    return body.Num ?? 0;
  }

  close(): void {
    this.#closed = true;
    this.#socket?.destroy();
    this.#socket = null;
  }

  #call(command: string, body: unknown, hasBody: boolean): Promise<unknown> {
    const socket = this.#socket;
    if (socket === null || this.#closed) return Promise.reject(new ShoalError('BENCH_SERF_RPC', `serf rpc ${this.address} is not open`));
    const seq = this.#seq++;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#pending.delete(seq);
        reject(new ShoalError('BENCH_SERF_RPC', `serf rpc ${command} to ${this.address} timed out after ${this.timeoutMs} ms`));
      }, this.timeoutMs);
      this.#pending.set(seq, { command, hasBody, resolve, reject, timer });
      const parts = [packr.pack({ Command: command, Seq: seq })];
      if (body !== undefined) parts.push(packr.pack(body));
      socket.write(Buffer.concat(parts));
    });
  }

  #onValue(value: unknown): void {
    const waiting = this.#awaitingBody;
    if (waiting !== null) {
      this.#awaitingBody = null;
      this.#settle(waiting, value);
      return;
    }
    const header = value as { Seq?: number; Error?: string };
    const p = typeof header?.Seq === 'number' ? this.#pending.get(header.Seq) : undefined;
    if (p === undefined) return; // a late answer to a request that timed out
    this.#pending.delete(header.Seq!);
    p.header = { Seq: header.Seq!, Error: header.Error ?? '' };
    // members and join answer with a body even when Error is set (serf's ipc.go).
    if (p.hasBody) this.#awaitingBody = p;
    else this.#settle(p, undefined);
  }

  #settle(p: Pending, body: unknown): void {
    clearTimeout(p.timer);
    if (p.header !== undefined && p.header.Error !== '') {
      p.reject(new ShoalError('BENCH_SERF_RPC', `serf rpc ${p.command} on ${this.address}: ${p.header.Error}`));
    } else {
      p.resolve(body);
    }
  }

  #failAll(err: Error): void {
    for (const p of this.#pending.values()) {
      clearTimeout(p.timer);
      p.reject(new ShoalError('BENCH_SERF_RPC', `serf rpc ${p.command} on ${this.address}: ${err.message}`, {}, { cause: err }));
    }
    this.#pending.clear();
    this.#awaitingBody = null;
  }
}
