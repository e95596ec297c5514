import type { Middleware } from 'grammy';
import { isDatabaseUnavailable } from '../../platform/db/unavailable.js';
import { RetryLaterError } from '../../platform/errors.js';
import { resolveLocale } from '../../platform/i18n/i18n.js';
import { withLogContext } from '../../platform/logger.js';
import { LATENCY_BUCKETS } from '../../platform/metrics.js';
import type { BotContext, BotDeps } from '../context.js';

/** Seconds Telegram is asked to wait before it re-sends an update the database could not take. */
const DATABASE_RETRY_S = 5;

/**
 * An update that failed in a way a later attempt can fix: the database is unreachable, or another
 * attempt holds it. It is not apologized for; it is handed back (see RetryLaterError).
 */
export function isDeferrable(err: unknown): boolean {
  return err instanceof RetryLaterError || isDatabaseUnavailable(err);
}

function updateType(update: object): string {
  return Object.keys(update).find((k) => k !== 'update_id') ?? 'unknown';
}

/**
 * The outermost middleware: attaches the dependencies, counts updates, times handlers and is the
 * error boundary — an exception is logged with the update and user ids, counted, and the user gets
 * a localized apology instead of silence. An update the database could not take is not apologized
 * for but deferred: it leaves as a RetryLaterError (the webhook answers 503 and Telegram re-sends it;
 * the poller retries it), so the user is answered once the database is back.
 */
export function observe(deps: BotDeps): Middleware<BotContext> {
  const updates = deps.metrics.counter({
    name: 'vitte_bot_updates_total',
    help: 'Telegram updates received by type',
    labelNames: ['type'],
  });
  const duration = deps.metrics.histogram({
    name: 'vitte_bot_handler_duration_seconds',
    help: 'Time to handle one update, by handler',
    labelNames: ['handler'],
    buckets: LATENCY_BUCKETS,
  });
  const errors = deps.metrics.counter({
    name: 'vitte_bot_errors_total',
    help: 'Errors thrown while handling updates, by handler',
    labelNames: ['handler'],
  });
  const deferred = deps.metrics.counter({
    name: 'vitte_bot_updates_deferred_total',
    help: 'Updates handed back for a later attempt, by reason (database: unreachable; busy: another attempt holds it)',
    labelNames: ['reason'],
  });
  let deferring = false;
  const lastUpdate = deps.metrics.gauge({
    name: 'vitte_bot_last_update_timestamp_seconds',
    help: 'Unix time of the last update received (alerts fire when it stops moving)',
  });

  // From start, not 0: a process that has just started has not missed any update yet.
  lastUpdate.setToCurrentTime();

  return (ctx, next) => {
    ctx.deps = deps;
    updates.inc({ type: updateType(ctx.update) });
    lastUpdate.setToCurrentTime();
    const started = performance.now();
    // Every line logged while handling the update, by any service, carries its id and user.
    const fields = { updateId: ctx.update.update_id, userId: ctx.from?.id, chatId: ctx.chat?.id };
    return withLogContext(fields, async () => {
      try {
        await next();
        if (deferring) {
          deferring = false;
          deps.logger.info('database answers again: deferred updates are handled as they come back');
        }
      } catch (err) {
        if (isDeferrable(err)) {
          const busy = err instanceof RetryLaterError;
          deferred.inc({ reason: busy ? 'busy' : 'database' });
          // Once per outage, not once per update.
          if (!busy && !deferring) deps.logger.warn({ err }, 'database unavailable: updates are deferred');
          deferring ||= !busy;
          throw busy
            ? err
            : new RetryLaterError('the database is unavailable', DATABASE_RETRY_S, { cause: err });
        }
        const handler = ctx.handler ?? 'middleware';
        errors.inc({ handler });
        deps.logger.error({ err, handler }, 'update failed');
        await apologize(ctx, deps).catch((e: unknown) =>
          deps.logger.warn({ err: e }, 'could not send the apology'),
        );
      } finally {
        duration.observe({ handler: ctx.handler ?? 'none' }, (performance.now() - started) / 1000);
      }
    });
  };
}

async function apologize(ctx: BotContext, deps: BotDeps): Promise<void> {
  const locale = ctx.locale ?? resolveLocale(ctx.user?.language, ctx.from?.language_code);
  const text = deps.i18n.t(locale, 'error-generic');
  if (ctx.callbackQuery) {
    // The handler may have answered the button already (a query is answered once): then say it in the chat.
    const alerted = await ctx.answerCallbackQuery({ text, show_alert: true }).then(
      () => true,
      () => false,
    );
    if (alerted || !ctx.chat) return;
  }
  if (ctx.chat) await ctx.reply(text);
}
