import type { Middleware } from 'grammy';
import type { BotContext, BotDeps } from '../context.js';

const WINDOW_MS = 24 * 3_600_000;

/**
 * Telegram re-sends an update when a webhook answer is late or a poller restarts; each update_id is
 * handled at most once within 24 h (Redis when configured, so it holds across processes).
 */
export function dedupe(deps: Pick<BotDeps, 'cache' | 'metrics' | 'logger'>): Middleware<BotContext> {
  const duplicates = deps.metrics.counter({
    name: 'vitte_bot_duplicate_updates_total',
    help: 'Updates dropped because their update_id was already handled',
  });
  return async (ctx, next) => {
    const fresh = await deps.cache.setIfAbsent(`update:${ctx.update.update_id}`, 1, WINDOW_MS);
    if (!fresh) {
      duplicates.inc();
      deps.logger.info('duplicate update dropped');
      return;
    }
    await next();
  };
}
