import type { FastifyPluginAsync } from 'fastify';
import { z } from 'zod';
import { ShoalError } from '../../core/errors.ts';
import { errorBody } from '../errors.ts';
import type { ApiModules } from '../modules.ts';
import { parseOr400 } from './agent.ts';

/**
 * Drain and recovery status. `POST /v1/agent/drain {host, cancel}` works on any agent: the
 * request goes to the named host, which stops taking placements and moves its jobs away (or,
 * with `cancel`, takes placements again). `GET /v1/agent/recovery` shows replication,
 * evacuations this agent watches or runs, the last fence check and the drain state.
 */

const DrainBody = z.strictObject({
  /** A peer id, or a unique prefix (≥ 6 characters) of a host in this agent's cell; `self` for this agent's host. */
  host: z.string().min(1).max(128),
  cancel: z.boolean().default(false),
});

/** Recovery error codes and their HTTP statuses. */
export const RECOVERY_API_ERRORS = {
  /** No host by that id or prefix in this agent's cell. */
  RECOVERY_UNKNOWN_HOST: 404,
  /** The prefix matches several hosts. */
  RECOVERY_AMBIGUOUS_HOST: 409,
  /** The host did not answer (down, or unreachable from here). */
  RECOVERY_HOST_UNREACHABLE: 502,
  /** This agent runs without recovery (no mesh). */
  RECOVERY_UNAVAILABLE: 503,
} as const;

function isRecoveryCode(code: string): code is keyof typeof RECOVERY_API_ERRORS {
  return code in RECOVERY_API_ERRORS;
}

/** Aborts when the client goes away before the answer: the request's own 'close' fires as soon as its body is read. */
function abortOnHangUp(res: { once(ev: 'close', fn: () => void): unknown; readonly writableFinished: boolean }): AbortSignal {
  const ctl = new AbortController();
  res.once('close', () => {
    if (!res.writableFinished) ctl.abort(new ShoalError('API_CLIENT_GONE', 'client closed the connection'));
  });
  return ctl.signal;
}

export function drainRoutes(modules: ApiModules): FastifyPluginAsync {
  return async (app) => {
    app.post('/v1/agent/drain', async (req, reply) => {
      const body = parseOr400(DrainBody, req.body, 'body');
      try {
        if (!modules.control.drain) throw new ShoalError('RECOVERY_UNAVAILABLE', 'this agent runs without a mesh: there is nothing to drain to');
        return await modules.control.drain(body.host, body.cancel, { signal: abortOnHangUp(reply.raw) });
      } catch (err) {
        if (err instanceof ShoalError && isRecoveryCode(err.code)) return reply.code(RECOVERY_API_ERRORS[err.code]).send(errorBody(err.code, err.message, err.details));
        throw err;
      }
    });

    app.get('/v1/agent/recovery', async (_req, reply) => {
      const status = modules.info.stats().recovery;
      if (status === undefined) return reply.code(503).send(errorBody('RECOVERY_UNAVAILABLE', 'this agent runs without recovery'));
      return status;
    });
  };
}
