import type { FastifyPluginAsync } from 'fastify';
import { z } from 'zod';
import { ShoalError } from '../../core/errors.ts';
import { MISSING_HEADER } from '../headers.ts';
import type { ApiModules } from '../modules.ts';
import { parseOr400 } from './agent.ts';

const JobParams = z.strictObject({ id: z.string().min(1).max(128) });
const ListQuery = z.strictObject({
  cluster: z.enum(['true', 'false']).optional(),
  state: z.string().optional(),
  tenant: z.string().optional(),
});

export function jobRoutes(modules: ApiModules): FastifyPluginAsync {
  return async (app) => {
    app.post('/v1/jobs', async (req, reply) => {
      const { job, created } = await modules.jobs.submit(req.body);
      return reply.code(created ? 201 : 200).send(job);
    });

    app.get('/v1/jobs', async (req, reply) => {
      const query = parseOr400(ListQuery, req.query, 'query');
      const { jobs, missing } = await modules.jobs.list({ cluster: query.cluster === 'true' });
      // Hosts and cells that did not answer: their jobs are not in the list, which is not "stopped".
      reply.header(MISSING_HEADER, String(missing.length));
      if (missing.length > 0) req.log.warn({ missing: missing.slice(0, 20), count: missing.length }, 'cluster job listing is incomplete');
      return jobs.filter((j) => (!query.state || j.state === query.state) && (!query.tenant || j.spec.tenant === query.tenant));
    });

    app.get('/v1/jobs/:id', async (req) => {
      const { id } = parseOr400(JobParams, req.params, 'path');
      const job = await modules.jobs.get(id);
      if (!job) throw new ShoalError('JOB_NOT_FOUND', `no job ${id}`, { id });
      return job;
    });

    app.delete('/v1/jobs/:id', async (req) => {
      const { id } = parseOr400(JobParams, req.params, 'path');
      const job = await modules.jobs.stop(id);
      if (!job) throw new ShoalError('JOB_NOT_FOUND', `no job ${id}`, { id });
      return job;
    });
  };
}
