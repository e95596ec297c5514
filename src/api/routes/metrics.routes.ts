import type { FastifyInstance } from 'fastify';
import type { Metrics } from '../../platform/metrics.js';

/** Prometheus scrape endpoint. */
export function metricsRoutes(metrics: Metrics) {
  return async (f: FastifyInstance) => {
    f.get('/metrics', { schema: { hide: true } }, async (_req, reply) => {
      const body = await metrics.text();
      return reply.type(metrics.contentType).send(body);
    });
  };
}
