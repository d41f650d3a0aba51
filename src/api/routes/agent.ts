import type { FastifyPluginAsync } from 'fastify';
import { z } from 'zod';
import { ShoalError } from '../../core/errors.ts';
import type { ApiModules } from '../modules.ts';

const MembersQuery = z.strictObject({ status: z.enum(['alive', 'suspect', 'failed', 'left']).optional() });
const JoinBody = z.strictObject({ addrs: z.array(z.string().min(1)).min(1).max(64) });

export function agentRoutes(modules: ApiModules): FastifyPluginAsync {
  return async (app) => {
    app.get('/v1/agent/self', async () => modules.info.self());

    app.get('/v1/agent/health', async (_req, reply) => {
      const health = modules.info.health();
      return reply.code(health.status === 'ok' ? 200 : 503).send(health);
    });

    app.get('/v1/agent/members', async (req) => {
      const query = parseOr400(MembersQuery, req.query, 'query');
      return modules.info.members(query);
    });

    app.get('/v1/agent/cells', async () => modules.info.cells());

    app.get('/v1/agent/stats', async () => modules.info.stats());

    app.post('/v1/agent/join', async (req, reply) => {
      const body = parseOr400(JoinBody, req.body, 'body');
      if (!modules.control.join) throw new ShoalError('AGENT_JOIN_FAILED', 'this agent runs without a mesh');
      const result = await modules.control.join(body.addrs, { signal: abortOnClose(reply.raw) });
      if (result.joined.length === 0) {
        const retrying = result.failed.some((f) => f.retrying) ? ' (the agent keeps retrying the addresses that name their peer)' : '';
        throw new ShoalError('AGENT_JOIN_FAILED', `could not join any of ${body.addrs.length} address(es): ${result.failed.map((f) => `${f.addr}: ${f.error}`).join('; ')}${retrying}`, result);
      }
      return result;
    });
  };
}

export function parseOr400<T>(schema: z.ZodType<T>, value: unknown, where: string): T {
  const result = schema.safeParse(value ?? {});
  if (result.success) return result.data;
  const issues = result.error.issues.map((i) => ({ path: i.path.map(String).join('.'), message: i.message }));
  throw new ShoalError('API_BAD_REQUEST', `invalid ${where}: ${issues.map((i) => `${i.path || where}: ${i.message}`).join('; ')}`, { issues });
}

/**
 * An AbortSignal that fires when the client goes away before the answer, so long calls stop
 * working for nobody. It watches the response: a request's own 'close' fires as soon as its
 * body has been read.
 */
export function abortOnClose(res: { once(ev: 'close', fn: () => void): unknown; readonly writableFinished: boolean }): AbortSignal {
  const ctl = new AbortController();
  res.once('close', () => {
    if (!res.writableFinished) ctl.abort(new ShoalError('API_CLIENT_GONE', 'client closed the connection'));
  });
  return ctl.signal;
}
