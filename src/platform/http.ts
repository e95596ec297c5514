import { randomUUID } from 'node:crypto';
import helmet from '@fastify/helmet';
import Fastify, {
  type FastifyBaseLogger,
  type FastifyError,
  type FastifyInstance,
  type FastifyReply,
  LogController,
} from 'fastify';
import { AppError } from './errors.js';
import type { Logger } from './logger.js';
import { LATENCY_BUCKETS, type Metrics } from './metrics.js';

export interface HttpServerOptions {
  logger: Logger;
  metrics: Metrics;
  trustProxy: boolean;
  bodyLimit?: number;
}

/** The one JSON error shape of every 4xx/5xx answer. */
export interface ErrorBody {
  error: { code: string; message: string; details?: unknown; requestId: string };
}

const REQUEST_ID = /^[A-Za-z0-9._-]{8,128}$/;

export function sendError(
  reply: FastifyReply,
  status: number,
  code: string,
  message: string,
  details?: unknown,
): FastifyReply {
  const body: ErrorBody = {
    error: {
      code,
      message,
      ...(details === undefined ? {} : { details }),
      requestId: String(reply.request.id),
    },
  };
  return reply.status(status).type('application/json; charset=utf-8').send(body);
}

/**
 * A Fastify instance with what every Vitte HTTP server shares: request ids (taken from a trusted
 * proxy's `x-request-id` or generated), security headers, one error shape, request metrics.
 */
export function createHttpServer(opts: HttpServerOptions): FastifyInstance {
  const app = Fastify({
    loggerInstance: opts.logger.child({ component: 'http' }) as FastifyBaseLogger,
    trustProxy: opts.trustProxy,
    bodyLimit: opts.bodyLimit ?? 1_048_576,
    logController: new LogController({ disableRequestLogging: true }),
    // Only a trusted proxy's id is taken: a client could otherwise pick ids that collide in the logs.
    genReqId: (req) => {
      const given = opts.trustProxy ? req.headers['x-request-id'] : undefined;
      return typeof given === 'string' && REQUEST_ID.test(given) ? given : randomUUID();
    },
  });

  const duration = opts.metrics.histogram({
    name: 'vitte_http_request_duration_seconds',
    help: 'HTTP request duration by route and status code',
    labelNames: ['method', 'route', 'status'],
    buckets: LATENCY_BUCKETS,
  });

  app.addHook('onRequest', async (req, reply) => {
    reply.header('x-request-id', req.id);
  });
  app.addHook('onResponse', async (req, reply) => {
    const route = req.routeOptions.url ?? 'unmatched';
    duration.observe(
      { method: req.method, route, status: String(reply.statusCode) },
      reply.elapsedTime / 1000,
    );
    const level = reply.statusCode >= 500 ? 'error' : reply.statusCode >= 400 ? 'info' : 'debug';
    req.log[level](
      { method: req.method, url: req.url, status: reply.statusCode, ms: Math.round(reply.elapsedTime) },
      'request completed',
    );
  });

  app.register(helmet, {
    // The admin panel and docs load their own scripts and styles from 'self' only.
    contentSecurityPolicy: {
      directives: {
        defaultSrc: ["'self'"],
        scriptSrc: ["'self'"],
        styleSrc: ["'self'", "'unsafe-inline'"],
        imgSrc: ["'self'", 'data:', 'blob:'],
        connectSrc: ["'self'"],
        formAction: ["'self'"],
        frameAncestors: ["'none'"],
      },
    },
    hsts: opts.trustProxy,
  });

  app.setErrorHandler((err: FastifyError, req, reply) => {
    if (err instanceof AppError) return sendError(reply, err.status, err.code, err.message, err.details);
    if (err.validation) {
      return sendError(reply, 400, 'validation_failed', err.message, { issues: err.validation });
    }
    const status = err.statusCode ?? 500;
    if (status < 500) {
      return sendError(reply, status, (err.code ?? 'bad_request').toLowerCase(), err.message);
    }
    req.log.error({ err }, 'unhandled error');
    return sendError(reply, 500, 'internal_error', 'Something went wrong. Try again later.');
  });

  app.setNotFoundHandler((req, reply) =>
    sendError(reply, 404, 'not_found', `no route for ${req.method} ${req.url.split('?')[0]}`),
  );

  return app;
}
