import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isDriverError } from '../../../src/host/driver-errors.ts';
import { QmpClient, defaultQmpClientOptions } from '../../../src/host/qmp-client.ts';

/**
 * The QMP client against a scripted server on a real unix socket. The server speaks the
 * wire format QEMU uses (greeting, CRLF-terminated JSON, ids echoed, events interleaved);
 * the real QEMU is exercised in test/e2e/drivers.
 */

type Handler = (msg: { execute: string; arguments?: unknown; id?: unknown }, sock: Socket) => void;

async function qmpServer(dir: string, handler: Handler, greet = true): Promise<{ path: string; server: Server; sockets: Socket[] }> {
  const path = join(dir, `qmp-${Math.random().toString(36).slice(2)}.sock`);
  const sockets: Socket[] = [];
  const server = createServer((sock) => {
    sockets.push(sock);
    if (greet) sock.write('{"QMP": {"version": {"qemu": {"micro": 0, "minor": 2, "major": 7}, "package": "test"}, "capabilities": ["oob"]}}\r\n');
    let buf = '';
    sock.setEncoding('utf8');
    sock.on('data', (d: string) => {
      buf += d;
      let nl: number;
      while ((nl = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        const msg = JSON.parse(line) as { execute: string; id?: unknown };
        if (msg.execute === 'qmp_capabilities') sock.write(`${JSON.stringify({ return: {}, id: msg.id })}\r\n`);
        else handler(msg, sock);
      }
    });
    sock.on('error', () => undefined);
  });
  await new Promise<void>((r) => server.listen(path, r));
  return { path, server, sockets };
}

describe('QmpClient', () => {
  let dir: string;
  const servers: Server[] = [];

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'shoal-qmp-'));
  });

  afterEach(async () => {
    for (const s of servers.splice(0)) await new Promise((r) => s.close(r));
    rmSync(dir, { recursive: true, force: true });
  });

  async function serve(handler: Handler, greet = true): Promise<{ path: string; sockets: Socket[] }> {
    const s = await qmpServer(dir, handler, greet);
    servers.push(s.server);
    return s;
  }

  it('negotiates capabilities and matches replies to commands by id, whatever their order', async () => {
    const held: { id: unknown; sock: Socket }[] = [];
    const { path } = await serve((msg, sock) => {
      held.push({ id: msg.id, sock });
      if (held.length === 2) {
        // Answer the second command first.
        sock.write(`${JSON.stringify({ return: { n: 2 }, id: held[1]!.id })}\r\n`);
        sock.write(`${JSON.stringify({ return: { n: 1 }, id: held[0]!.id })}\r\n`);
      }
    });
    const c = await QmpClient.connect(path);
    assert.equal((await c.greeting()).version.qemu.major, 7);
    const [a, b] = await Promise.all([c.execute<{ n: number }>('first'), c.execute<{ n: number }>('second')]);
    assert.equal(a.n, 1, 'reply with the first id goes to the first command');
    assert.equal(b.n, 2);
    c.close();
  });

  it('delivers events interleaved with replies, and waits for a named event', async () => {
    const { path } = await serve((msg, sock) => {
      sock.write('{"timestamp": {"seconds": 1, "microseconds": 2}, "event": "POWERDOWN"}\r\n');
      sock.write(`${JSON.stringify({ return: {}, id: msg.id })}\r\n`);
      sock.write('{"timestamp": {"seconds": 1, "microseconds": 3}, "event": "SHUTDOWN", "data": {"guest": true}}\r\n');
    });
    const c = await QmpClient.connect(path);
    const seen: string[] = [];
    c.onEvent((e) => seen.push(e.event));
    const shutdown = c.waitForEvent('SHUTDOWN', { timeoutMs: 2_000 });
    await c.execute('system_powerdown');
    const ev = await shutdown;
    assert.deepEqual(ev.data, { guest: true });
    assert.deepEqual(seen, ['POWERDOWN', 'SHUTDOWN']);
    c.close();
  });

  it('turns a QMP error into DRIVER_QMP_ERROR carrying the class and description', async () => {
    const { path } = await serve((msg, sock) => sock.write(`${JSON.stringify({ error: { class: 'CommandNotFound', desc: "The command nope has not been found" }, id: msg.id })}\r\n`));
    const c = await QmpClient.connect(path);
    await assert.rejects(c.execute('nope'), (e: unknown) => isDriverError(e, 'DRIVER_QMP_ERROR') && e.details.class === 'CommandNotFound' && /has not been found/.test(e.message));
    c.close();
  });

  it('times out a command with no reply, and honours an abort signal', async () => {
    const { path } = await serve(() => undefined); // never answers
    const c = await QmpClient.connect(path);
    await assert.rejects(c.execute('query-status', undefined, { timeoutMs: 50 }), (e: unknown) => isDriverError(e, 'DRIVER_TIMEOUT'));
    const ac = new AbortController();
    const p = c.execute('query-status', undefined, { signal: ac.signal, timeoutMs: 5_000 });
    ac.abort();
    await assert.rejects(p, (e: unknown) => isDriverError(e, 'DRIVER_ABORTED'));
    c.close();
  });

  it('rejects pending commands when QEMU goes away, and resolves closed', async () => {
    const { path, sockets } = await serve(() => sockets[0]!.destroy());
    const c = await QmpClient.connect(path);
    await assert.rejects(c.execute('quit'), (e: unknown) => isDriverError(e, 'DRIVER_QMP_UNREACHABLE'));
    await c.closed;
    assert.equal(c.connected, false);
    await assert.rejects(c.execute('query-status'), (e: unknown) => isDriverError(e, 'DRIVER_QMP_UNREACHABLE'), 'commands after close fail at once');
  });

  it('fails to connect precisely: no socket, or a server that never greets', async () => {
    await assert.rejects(QmpClient.connect(join(dir, 'missing.sock')), (e: unknown) => isDriverError(e, 'DRIVER_QMP_UNREACHABLE') && /ENOENT/.test(e.message));
    const { path } = await serve(() => undefined, false);
    await assert.rejects(QmpClient.connect(path, { timeoutMs: 100 }), (e: unknown) => isDriverError(e, 'DRIVER_TIMEOUT'), 'a silent server times out');
  });

  it('drops a connection that sends an oversized line', async () => {
    const { path } = await serve((_msg, sock) => sock.write('x'.repeat(4096)));
    const c = await QmpClient.connect(path, {}, { ...defaultQmpClientOptions, maxLineBytes: 1024 });
    await assert.rejects(c.execute('query-status', undefined, { timeoutMs: 2_000 }), (e: unknown) => isDriverError(e, 'DRIVER_QMP_UNREACHABLE'));
    assert.equal(c.connected, false);
  });

  it('skips a garbled line and keeps the session', async () => {
    const { path } = await serve((msg, sock) => {
      sock.write('{not json\r\n');
      sock.write(`${JSON.stringify({ return: { status: 'running' }, id: msg.id })}\r\n`);
    });
    const c = await QmpClient.connect(path);
    assert.deepEqual(await c.execute('query-status'), { status: 'running' });
    c.close();
  });
});
