import { PassThrough } from 'node:stream';
import type { FastifyPluginAsync } from 'fastify';
import { z } from 'zod';
import type { AgentEvent } from '../../agent/event-bus.ts';
import type { ApiModules } from '../modules.ts';
import { parseOr400 } from './agent.ts';

const EventsQuery = z.strictObject({
  /** Replay buffered events after this sequence number first. */
  since: z.coerce.number().int().nonnegative().optional(),
  /** Only events whose type starts with this prefix, e.g. `job.` */
  type: z.string().max(64).optional(),
});

/** `GET /v1/events`: newline-delimited JSON, one event per line, until the client hangs up. */
export function eventRoutes(modules: ApiModules): FastifyPluginAsync {
  return async (app) => {
    app.get('/v1/events', (req, reply) => {
      const query = parseOr400(EventsQuery, req.query, 'query');
      const matches = (ev: AgentEvent): boolean => !query.type || ev.type.startsWith(query.type);
      const out = new PassThrough();
      const write = (ev: AgentEvent): void => {
        if (matches(ev)) out.write(`${JSON.stringify(ev)}\n`);
      };
      if (query.since !== undefined) for (const ev of modules.events.since(query.since)) write(ev);
      const unsubscribe = modules.events.subscribe(write);
      req.raw.once('close', () => {
        unsubscribe();
        out.end();
      });
      void reply.type('application/x-ndjson').header('cache-control', 'no-store').send(out);
    });
  };
}
