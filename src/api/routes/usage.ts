import type { FastifyPluginAsync } from 'fastify';
import { z } from 'zod';
import { ShoalError } from '../../core/errors.ts';
import { usageToCsv, usageToJson, type UsageQuery } from '../../host/usage-export.ts';
import type { ApiModules } from '../modules.ts';
import { parseOr400 } from './agent.ts';

/**
 * `GET /v1/usage`: metered usage of this host's jobs for billing systems, summed per job
 * (default) or per tenant, as JSON or RFC 4180 CSV. `since`/`until` select whole hourly
 * buckets: a bucket counts when it overlaps [since, until).
 */

/** ISO 8601 date or date-time, with an optional offset: `2026-11-22`, `2026-11-22T10:00:00Z`, `…+01:00`. */
const ISO_RE = /^\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:?\d{2})?)?$/;

const isoTime = z
  .string()
  .regex(ISO_RE, 'must be an ISO 8601 date or date-time, e.g. 2026-11-22T10:00:00Z')
  .transform((s, ctx) => {
    const ms = Date.parse(s);
    if (!Number.isFinite(ms)) {
      ctx.addIssue({ code: 'custom', message: `${s} is not a valid date` });
      return z.NEVER;
    }
    return ms;
  });

const UsageQuerySchema = z.strictObject({
  tenant: z.string().min(1).max(63).optional(),
  since: isoTime.optional(),
  until: isoTime.optional(),
  by: z.enum(['job', 'tenant']).default('job'),
  format: z.enum(['json', 'csv']).default('json'),
});

export function usageRoutes(modules: Pick<ApiModules, 'control'>): FastifyPluginAsync {
  return async (app) => {
    app.get('/v1/usage', async (req, reply) => {
      const q = parseOr400(UsageQuerySchema, req.query, 'query');
      if (q.since !== undefined && q.until !== undefined && q.until <= q.since) {
        throw new ShoalError('API_BAD_REQUEST', `invalid query: until (${new Date(q.until).toISOString()}) must be after since (${new Date(q.since).toISOString()})`);
      }
      if (!modules.control.usage) throw new ShoalError('USAGE_UNAVAILABLE', 'this agent runs without usage metering');
      const query: UsageQuery = {
        groupBy: q.by,
        ...(q.tenant !== undefined ? { tenant: q.tenant } : {}),
        ...(q.since !== undefined ? { sinceMs: q.since } : {}),
        ...(q.until !== undefined ? { untilMs: q.until } : {}),
      };
      const rows = await modules.control.usage(query);
      if (q.format === 'csv') {
        return reply.type('text/csv; charset=utf-8').header('content-disposition', 'inline; filename="shoal-usage.csv"').send(usageToCsv(rows));
      }
      return usageToJson(rows, query);
    });
  };
}
