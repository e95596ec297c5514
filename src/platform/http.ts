import { randomUUID } from 'node:crypto';
import type { ServerResponse } from 'node:http';
import helmet from '@fastify/helmet';
import Fastify, {
  type FastifyBaseLogger,
  type FastifyError,
  type FastifyInstance,
  type FastifyReply,
  type FastifyRequest,
  LogController,
} from 'fastify';
import { AppError } from './errors.js';
import type { Logger } from './logger.js';
import { LATENCY_BUCKETS, type Metrics } from './metrics.js';

export interface HttpServerOptions {
  logger: Logger;
  metrics: Metrics;
  trustProxy: boolean;
  /** PUBLIC_URL: when it is https, requests for its host are treated as served over HTTPS. */
  publicUrl?: string | undefined;
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

/** Whether the browser reached us over HTTPS: directly, through a trusted TLS proxy, or at PUBLIC_URL. */
function servedOverHttps(publicUrl: string | undefined): (req: FastifyRequest) => boolean {
  const pub = publicUrl ? new URL(publicUrl) : undefined;
  const publicHost = pub?.protocol === 'https:' ? pub.host : undefined;
  return (req) => req.protocol === 'https' || (publicHost !== undefined && req.host === publicHost);
}

/**
 * Ends the responses that would hold the server open on close: event streams (text/event-stream)
 * never finish by themselves, so close() would wait out the whole shutdown deadline. Destroyed,
 * not ended: a stream's writer may still write, and a write after end() would be an error event.
 */
function closeStreamsOnClose(app: FastifyInstance): void {
  const open = new Set<ServerResponse>();
  app.addHook('onRequest', async (_req, reply) => {
    const res = reply.raw;
    open.add(res);
    res.once('close', () => open.delete(res));
  });
  app.addHook('preClose', async () => {
    for (const res of open) {
      if (String(res.getHeader('content-type') ?? '').startsWith('text/event-stream')) res.destroy();
    }
  });
}

/**
 * A Fastify instance with what every Vitte HTTP server shares: request ids (taken from a trusted
 * proxy's `x-request-id` or generated), security headers, one error shape, request metrics, and a
 * close that does not wait for idle keep-alive connections or open event streams.
 */
export function createHttpServer(opts: HttpServerOptions): FastifyInstance {
  const app = Fastify({
    forceCloseConnections: 'idle',
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

  closeStreamsOnClose(app);

  app.register(helmet, {
    // The admin panel and docs load their own scripts and styles from 'self' only.
    contentSecurityPolicy: {
      directives: {
        // Added per request below, only over HTTPS: on plain HTTP (an IP in a LAN) the browser
        // would fetch every style and script over https:// and the pages would break.
        upgradeInsecureRequests: null,
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
  const https = servedOverHttps(opts.publicUrl);
  app.addHook('onSend', async (req, reply, payload) => {
    const csp = reply.getHeader('content-security-policy');
    if (typeof csp === 'string' && https(req) && !csp.includes('upgrade-insecure-requests')) {
      reply.header('content-security-policy', `${csp};upgrade-insecure-requests`);
    }
    return payload;
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
