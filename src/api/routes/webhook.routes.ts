import { createHash, timingSafeEqual } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import { type Bot, BotError, type Context } from 'grammy';
import type { Update } from 'grammy/types';
import { RetryLaterError } from '../../platform/errors.js';
import { sendError } from '../../platform/http.js';
import type { Logger } from '../../platform/logger.js';
import type { Metrics } from '../../platform/metrics.js';

const digest = (s: string) => createHash('sha256').update(s).digest();

/**
 * Compares digests so neither the content nor the length of the secret leaks through timing. The
 * expected digest is computed once, not per request.
 */
export function secretMatches(given: unknown, expectedDigest: Buffer): boolean {
  if (typeof given !== 'string') return false;
  return timingSafeEqual(digest(given), expectedDigest);
}

function isUpdate(body: unknown): body is Update {
  return (
    typeof body === 'object' &&
    body !== null &&
    !Array.isArray(body) &&
    Number.isSafeInteger((body as { update_id?: unknown }).update_id)
  );
}

/**
 * Telegram's webhook: the secret header is checked before the body is even parsed (401, nothing
 * processed); a body that is not an update is a 400. Handlers only do quick work and hand slow work
 * to the queue, so the answer comes well inside Telegram's timeout. An update that cannot be handled
 * now (the database is down, another attempt holds it) is answered 503 with Retry-After: Telegram
 * re-sends it later, so it is handled once it can be instead of being confirmed and lost.
 */
export function webhookRoutes<C extends Context>(opts: {
  bot: Bot<C>;
  path: string;
  secret: string;
  logger: Logger;
  metrics: Metrics;
}) {
  const expected = digest(opts.secret);
  const rejected = opts.metrics.counter({
    name: 'vitte_webhook_rejected_total',
    help: 'Webhook requests refused, by reason',
    labelNames: ['reason'],
  });
  return async (f: FastifyInstance) => {
    f.post(
      opts.path,
      {
        schema: { hide: true },
        bodyLimit: 4 * 1024 * 1024,
        // Telegram is no browser: security headers mean nothing to it, and @fastify/helmet builds
        // them anew on every request (a tenth of the webhook's allocations).
        config: { helmet: { skipRoute: true } },
        onRequest: async (req, reply) => {
          if (!secretMatches(req.headers['x-telegram-bot-api-secret-token'], expected)) {
            rejected.inc({ reason: 'secret' });
            opts.logger.warn({ ip: req.ip }, 'webhook call with a wrong secret');
            return sendError(reply, 401, 'unauthorized', 'invalid webhook secret token');
          }
        },
      },
      async (req, reply) => {
        if (!isUpdate(req.body)) {
          rejected.inc({ reason: 'malformed' });
          return sendError(reply, 400, 'malformed_update', 'the body is not a Telegram update');
        }
        try {
          await opts.bot.handleUpdate(req.body);
        } catch (err) {
          const cause = err instanceof BotError ? err.error : err;
          if (!(cause instanceof RetryLaterError)) throw err;
          reply.header('retry-after', String(cause.retryAfterS));
          return sendError(reply, 503, cause.code, cause.message);
        }
        return reply.status(200).send({ ok: true });
      },
    );
  };
}
