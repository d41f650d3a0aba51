import type { FastifyPluginAsync } from 'fastify';
import type { ApiModules } from '../modules.ts';

export function metricsRoutes(modules: Pick<ApiModules, 'registry'>): FastifyPluginAsync {
  return async (app) => {
    app.get('/v1/metrics', async (_req, reply) => {
      return reply.type(modules.registry.contentType).send(await modules.registry.metrics());
    });
  };
}
