import type { Middleware } from 'grammy';
import { resolveLocale } from '../../platform/i18n/i18n.js';
import { withLogContext } from '../../platform/logger.js';
import { LATENCY_BUCKETS } from '../../platform/metrics.js';
import type { BotContext, BotDeps } from '../context.js';

function updateType(update: object): string {
  return Object.keys(update).find((k) => k !== 'update_id') ?? 'unknown';
}

/**
 * The outermost middleware: attaches the dependencies, counts updates, times handlers and is the
 * error boundary — an exception is logged with the update and user ids, counted, and the user gets
 * a localized apology instead of silence.
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
      } catch (err) {
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
