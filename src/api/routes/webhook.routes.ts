import { createHash, timingSafeEqual } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import type { Bot, Context } from 'grammy';
import type { Update } from 'grammy/types';
import { sendError } from '../../platform/http.js';
import type { Logger } from '../../platform/logger.js';
import type { Metrics } from '../../platform/metrics.js';

/** Compares digests so neither the content nor the length of the secret leaks through timing. */
export function secretMatches(given: unknown, expected: string): boolean {
  if (typeof given !== 'string') return false;
  const a = createHash('sha256').update(given).digest();
  const b = createHash('sha256').update(expected).digest();
  return timingSafeEqual(a, b);
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
 * to the queue, so the answer comes well inside Telegram's timeout.
 */
export function webhookRoutes<C extends Context>(opts: {
  bot: Bot<C>;
  path: string;
  secret: string;
  logger: Logger;
  metrics: Metrics;
}) {
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
        onRequest: async (req, reply) => {
          if (!secretMatches(req.headers['x-telegram-bot-api-secret-token'], opts.secret)) {
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
        await opts.bot.handleUpdate(req.body);
        return reply.status(200).send({ ok: true });
      },
    );
  };
}
