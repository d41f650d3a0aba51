import { chmod, chown, mkdir, unlink } from 'node:fs/promises';
import { connect } from 'node:net';
import { dirname } from 'node:path';
import Fastify, { LogController, type FastifyBaseLogger, type FastifyError, type FastifyInstance } from 'fastify';
import { ShoalError } from '../core/errors.ts';
import { errorBody, statusFor } from './errors.ts';
import type { ApiModules } from './modules.ts';
import { agentRoutes } from './routes/agent.ts';
import { drainRoutes } from './routes/drain.ts';
import { eventRoutes } from './routes/events.ts';
import { jobRoutes } from './routes/jobs.ts';
import { metricsRoutes } from './routes/metrics.ts';
import { usageRoutes } from './routes/usage.ts';

export interface ApiServerOptions {
  socket: string;
  /** Group owning the socket; its members get read/write through mode 0660. */
  socketGroupId?: number;
  maxBodyBytes: number;
  /** Optional `host:port` serving only `/v1/metrics`, for Prometheus scrapes. */
  metricsListen?: string;
}

/** Builds the app without listening: tests use `inject()`, the agent calls `listenOnSocket`. */
export function buildApi(opts: Pick<ApiServerOptions, 'maxBodyBytes'>, modules: ApiModules): FastifyInstance {
  const app = Fastify({
    loggerInstance: modules.logger as FastifyBaseLogger,
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: opts.maxBodyBytes,
    return503OnClosing: true,
  });

  app.addHook('onResponse', async (req, reply) => {
    const route = req.routeOptions.url ?? 'unmatched';
    modules.metrics?.requests.inc({ route, method: req.method, status: String(reply.statusCode) });
    modules.metrics?.requestSeconds.observe({ route }, reply.elapsedTime / 1000);
    req.log.debug({ method: req.method, url: req.url, status: reply.statusCode, ms: Math.round(reply.elapsedTime) }, 'request');
  });

  app.setErrorHandler((err: FastifyError | ShoalError, req, reply) => {
    const { status, body } = toErrorResponse(err);
    if (status >= 500) req.log.error({ err }, 'request failed');
    void reply.code(status).type('application/json').send(body);
  });

  app.setNotFoundHandler((req, reply) => {
    void reply.code(404).send(errorBody('API_NOT_FOUND', `no route ${req.method} ${req.url}`));
  });

  void app.register(agentRoutes(modules));
  void app.register(drainRoutes(modules));
  void app.register(jobRoutes(modules));
  void app.register(eventRoutes(modules));
  void app.register(metricsRoutes(modules));
  void app.register(usageRoutes(modules));
  return app;
}

function toErrorResponse(err: FastifyError | ShoalError): { status: number; body: ReturnType<typeof errorBody> } {
  if (err instanceof ShoalError) {
    return { status: statusFor(err.code), body: errorBody(err.code, err.message, err.details) };
  }
  switch (err.code) {
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return { status: 413, body: errorBody('API_BODY_TOO_LARGE', `request body exceeds the limit of ${err.message.match(/\d+/)?.[0] ?? 'configured'} bytes`) };
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return { status: 415, body: errorBody('API_UNSUPPORTED_MEDIA_TYPE', 'request body must be application/json') };
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
      return { status: 400, body: errorBody('API_INVALID_JSON', 'request body is empty; expected JSON') };
  }
  if (err.statusCode === 400 || err instanceof SyntaxError) {
    return { status: 400, body: errorBody('API_INVALID_JSON', `request body is not valid JSON: ${err.message}`) };
  }
  if (err.statusCode && err.statusCode < 500) {
    return { status: err.statusCode, body: errorBody('API_BAD_REQUEST', err.message) };
  }
  return { status: 500, body: errorBody('INTERNAL', 'internal error; see the agent log') };
}

/** Listens on the Unix socket with mode 0660, replacing a stale socket file but never a live agent's. */
export async function listenOnSocket(app: FastifyInstance, opts: ApiServerOptions): Promise<void> {
  await mkdir(dirname(opts.socket), { recursive: true, mode: 0o750 });
  if (await socketIsLive(opts.socket)) {
    throw new ShoalError('AGENT_ALREADY_RUNNING', `another agent is already listening on ${opts.socket}`, { socket: opts.socket });
  }
  await unlink(opts.socket).catch(() => undefined);
  await app.listen({ path: opts.socket });
  await chmod(opts.socket, 0o660);
  if (opts.socketGroupId !== undefined) await chown(opts.socket, process.getuid?.() ?? 0, opts.socketGroupId);
}

function socketIsLive(path: string): Promise<boolean> {
  return new Promise((resolve) => {
    const sock = connect(path);
    sock.once('connect', () => {
      sock.destroy();
      resolve(true);
    });
    sock.once('error', () => resolve(false));
  });
}

/** A second, TCP listener that serves only the metrics route. */
export async function listenForMetrics(modules: Pick<ApiModules, 'registry' | 'logger'>, address: string): Promise<FastifyInstance> {
  const app = Fastify({ loggerInstance: modules.logger as FastifyBaseLogger, disableRequestLogging: true });
  void app.register(metricsRoutes(modules));
  const [host, port] = [address.slice(0, address.lastIndexOf(':')), Number(address.slice(address.lastIndexOf(':') + 1))];
  await app.listen({ host, port });
  return app;
}
