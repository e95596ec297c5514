import cors from '@fastify/cors';
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import type { FastifyInstance } from 'fastify';
import type { App } from '../app.js';
import { healthRoutes } from './routes/health.routes.js';
import { metricsRoutes } from './routes/metrics.routes.js';

/**
 * What the OpenAPI document lists. In `all` the same server also carries the admin panel, the
 * playground and the webhook: none of them is an API for others to call.
 */
const PUBLIC_PATH = /^\/(health|metrics|api\/v1)(\/|$)/;

/**
 * The public API: health at the root (for load balancers) and under /api/v1, Prometheus metrics,
 * OpenAPI at /api/docs. Registered into a server built by createHttpServer.
 */
export async function registerApi(f: FastifyInstance, app: App): Promise<void> {
  await f.register(swagger, {
    openapi: {
      info: { title: 'Vitte API', version: '1', description: 'Public HTTP API of the Vitte bot platform.' },
      tags: [{ name: 'health', description: 'Liveness, dependencies and readiness' }],
    },
    transform: ({ schema, url }) => ({
      schema: PUBLIC_PATH.test(url) ? schema : { ...schema, hide: true },
      url,
    }),
  });
  await f.register(swaggerUi, { routePrefix: '/api/docs', staticCSP: true });

  await f.register(cors, {
    origin: app.config.CORS_ORIGINS.length ? app.config.CORS_ORIGINS : false,
    methods: ['GET', 'POST', 'PUT', 'PATCH', 'DELETE'],
    credentials: false,
  });

  await f.register(healthRoutes(app));
  await f.register(healthRoutes(app), { prefix: '/api/v1' });
  await f.register(metricsRoutes(app.metrics));
}
