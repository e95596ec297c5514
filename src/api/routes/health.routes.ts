import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { App } from '../../app.js';
import { pendingMigrations } from '../../platform/db/migrator.js';
import { errorMessage } from '../../platform/errors.js';
import { type Check, checkDb, checkRedis } from '../../platform/health.js';

const checkSchema = {
  type: 'object',
  properties: { status: { type: 'string' }, reason: { type: 'string' } },
  required: ['status'],
} as const;

/** Loopback, private (RFC 1918, IPv6 ULA) and link-local addresses, IPv4-mapped ones included. */
const INTERNAL =
  /^(::ffff:)?(127\.|10\.|192\.168\.|172\.(1[6-9]|2\d|3[01])\.|169\.254\.)|^(::1$|f[cd][0-9a-f]{2}:|fe[89ab][0-9a-f]:)/i;

/** A probe or an operator inside the deployment, not the public coming through the proxy. */
export function isInternalAddress(ip: string | undefined): boolean {
  return ip !== undefined && INTERNAL.test(ip);
}

/**
 * Why a check failed names servers, addresses and ports: only probes and operators from inside
 * (a private or loopback address) read it; the public reads that it is unavailable.
 */
function forCaller(req: FastifyRequest, check: Check): Check {
  return check.status === 'error' && !isInternalAddress(req.ip)
    ? { status: 'error', reason: 'unavailable' }
    : check;
}

/**
 * Liveness, dependency checks and readiness. Answers 503 with a reason when a check fails (the
 * details to internal callers only).
 */
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
        async (req, reply) => {
          const res = await check();
          return reply.status(res.status === 'error' ? 503 : 200).send(forCaller(req, res));
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
      async (req, reply) => {
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
        const shown = Object.fromEntries(Object.entries(checks).map(([k, c]) => [k, forCaller(req, c)]));
        return reply.status(ok ? 200 : 503).send({ status: ok ? 'ok' : 'error', checks: shown });
      },
    );
  };
}
