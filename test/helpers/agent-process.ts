import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { waitFor } from './wait-for.ts';

/** Real agents as child processes, driven through their real Unix sockets. */

export const REPO = resolve(import.meta.dirname, '../..');
export const SHOAL = join(REPO, 'bin/shoal.js');

export interface AgentProcess {
  readonly dir: string;
  readonly socket: string;
  readonly dataDir: string;
  readonly address: string;
  proc: ChildProcess;
  output(): string;
  /** SIGTERM and wait for exit. */
  stop(): Promise<number | null>;
  kill9(): Promise<void>;
  /** Starts again on the same data dir and socket; `args` replaces the start's extra arguments when given. */
  restart(extraArgs?: string[], opts?: { args?: string[] }): Promise<void>;
}

export interface StartOptions {
  args?: string[];
  env?: Record<string, string>;
  /** A TOML config written to the agent's dir and passed with --config. */
  configToml?: string;
  dir?: string;
  waitForHealthy?: boolean;
}

const running = new Set<AgentProcess>();

export function tempDir(prefix = 'shoal-test-'): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

export async function startAgent(opts: StartOptions = {}): Promise<AgentProcess> {
  const dir = opts.dir ?? tempDir();
  const socket = join(dir, 's.sock');
  const dataDir = join(dir, 'data');
  // Loopback only, on a free port: tests never listen beyond 127.0.0.1.
  const baseArgs = ['agent', '--data-dir', dataDir, '--socket', socket, '--listen', '/ip4/127.0.0.1/tcp/0'];
  if (opts.configToml) {
    writeFileSync(join(dir, 'shoal.toml'), opts.configToml);
    baseArgs.push('--config', join(dir, 'shoal.toml'));
  }
  let out = '';
  let startArgs = opts.args ?? [];
  const spawnIt = (extra: string[]): ChildProcess => {
    // The same runtime flags as `bin/shoal.js agent` and `npm start` give the agent.
    const proc = spawn(process.execPath, ['--max-semi-space-size=2', SHOAL, ...baseArgs, ...startArgs, ...extra], {
      env: { ...cleanEnv(), SHOAL_LOG_LEVEL: 'debug', ...opts.env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    proc.stdout!.on('data', (d: Buffer) => (out += d.toString()));
    proc.stderr!.on('data', (d: Buffer) => (out += d.toString()));
    return proc;
  };
  const agent: AgentProcess = {
    dir,
    socket,
    dataDir,
    address: `unix://${socket}`,
    proc: spawnIt([]),
    output: () => out,
    async stop() {
      if (agent.proc.exitCode !== null || agent.proc.signalCode !== null) return agent.proc.exitCode;
      const exited = new Promise<number | null>((r) => agent.proc.once('exit', (code) => r(code)));
      agent.proc.kill('SIGTERM');
      return exited;
    },
    async kill9() {
      if (agent.proc.exitCode !== null || agent.proc.signalCode !== null) return;
      const exited = new Promise<void>((r) => agent.proc.once('exit', () => r()));
      agent.proc.kill('SIGKILL');
      await exited;
    },
    async restart(extra = [], restartOpts = {}) {
      await agent.stop();
      if (restartOpts.args) startArgs = restartOpts.args;
      agent.proc = spawnIt(extra);
      await waitHealthy(agent);
    },
  };
  running.add(agent);
  if (opts.waitForHealthy !== false) await waitHealthy(agent);
  return agent;
}

export async function waitHealthy(agent: AgentProcess, timeoutMs = 60_000): Promise<void> {
  await waitFor(
    () => {
      if (agent.proc.exitCode !== null) throw new Error(`agent exited with ${agent.proc.exitCode}: ${agent.output().slice(-2000)}`);
      const r = curl(agent.socket, 'GET', '/v1/agent/health');
      return r.status === 200;
    },
    { timeoutMs, what: `agent at ${agent.socket} to answer /v1/agent/health` },
  );
}

/** Stops every agent a test started; call from an `afterEach`/`after` hook. */
export async function stopAllAgents(opts: { removeDirs?: boolean } = {}): Promise<void> {
  for (const agent of running) {
    await agent.kill9();
    if (opts.removeDirs !== false) rmSync(agent.dir, { recursive: true, force: true });
  }
  running.clear();
}

function cleanEnv(): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('SHOAL_') && v !== undefined) env[k] = v;
  return env;
}

export interface CurlResult {
  status: number;
  body: any;
  raw: string;
}

/** `curl --unix-socket`, for real: the API must work for any HTTP client, not only ours. */
export function curl(socket: string, method: string, path: string, body?: unknown, extra: string[] = []): CurlResult {
  const args = ['-s', '--max-time', '30', '--unix-socket', socket, '-X', method, '-w', '\n%{http_code}', `http://shoal${path}`, ...extra];
  if (body !== undefined) args.push('-H', 'content-type: application/json', '--data-binary', '@-');
  const r = spawnSync('curl', args, { input: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body), encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
  const out = r.stdout ?? '';
  const nl = out.lastIndexOf('\n');
  const raw = out.slice(0, nl);
  const status = Number(out.slice(nl + 1));
  let parsed: unknown = raw;
  try {
    parsed = JSON.parse(raw);
  } catch {
    /* not JSON (metrics text) */
  }
  return { status, body: parsed, raw };
}

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs the real `shoal` command. */
export function cli(args: string[], opts: { address?: string; input?: string; env?: Record<string, string> } = {}): CliResult {
  const env = { ...cleanEnv(), ...(opts.address ? { SHOAL_ADDR: opts.address } : {}), ...opts.env };
  const r = spawnSync(process.execPath, [SHOAL, ...args], { env, input: opts.input, encoding: 'utf8', timeout: 60_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** The async version, for bursts of concurrent submits. */
export function cliAsync(args: string[], opts: { address?: string; input?: string } = {}): Promise<CliResult> {
  return new Promise((resolvePromise) => {
    const env = { ...cleanEnv(), ...(opts.address ? { SHOAL_ADDR: opts.address } : {}) };
    const proc = spawn(process.execPath, [SHOAL, ...args], { env, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    proc.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    proc.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    proc.stdin.end(opts.input ?? '');
    proc.once('exit', (code) => resolvePromise({ code, stdout, stderr }));
  });
}
