import type { FastifyInstance } from 'fastify';
import type { App } from '../../app.js';
import { pendingMigrations } from '../../platform/db/migrator.js';
import { errorMessage } from '../../platform/errors.js';
import { type Check, checkDb, checkRedis } from '../../platform/health.js';

const checkSchema = {
  type: 'object',
  properties: { status: { type: 'string' }, reason: { type: 'string' } },
  required: ['status'],
} as const;

/** Liveness, dependency checks and readiness. Answers 503 with a reason when a check fails. */
export function healthRoutes(app: App) {
  return async (f: FastifyInstance) => {
    f.get(
      '/health',
      {
        schema: {
          tags: ['health'],
          summary: 'Liveness: the process answers',
          response: { 200: checkSchema },
        },
      },
      async () => ({ status: 'ok' }),
    );

    const dependencies = [
      ['/health/db', 'Database reachability', () => checkDb(app.database)],
      ['/health/redis', 'Redis reachability', () => checkRedis(app.redis)],
    ] as const;
    for (const [path, summary, check] of dependencies) {
      f.get(
        path,
        { schema: { tags: ['health'], summary, response: { 200: checkSchema, 503: checkSchema } } },
        async (_req, reply) => {
          const res = await check();
          return reply.status(res.status === 'error' ? 503 : 200).send(res);
        },
      );
    }

    f.get(
      '/health/ready',
      {
        schema: {
          tags: ['health'],
          summary: 'Readiness: dependencies up, schema current, not shutting down',
          response: {
            200: { type: 'object', additionalProperties: true },
            503: { type: 'object', additionalProperties: true },
          },
        },
      },
      async (_req, reply) => {
        const [db, redis] = await Promise.all([checkDb(app.database), checkRedis(app.redis)]);
        let migrations: Check = { status: 'ok' };
        if (db.status === 'ok') {
          const pending = await pendingMigrations(app.db).catch((err) => [errorMessage(err)]);
          if (pending.length) migrations = { status: 'error', reason: `pending: ${pending.join(', ')}` };
        }
        const shutdown: Check = app.lifecycle.isClosing
          ? { status: 'error', reason: 'shutting down' }
          : { status: 'ok' };
        const checks = { db, redis, migrations, shutdown };
        const ok = Object.values(checks).every((c) => c.status !== 'error');
        return reply.status(ok ? 200 : 503).send({ status: ok ? 'ok' : 'error', checks });
      },
    );
  };
}
