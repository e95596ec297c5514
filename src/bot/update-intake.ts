import type { Middleware } from 'grammy';
import { changed, cleanStrings } from '../platform/text-input.js';
import type { BotContext, BotDeps } from './context.js';

/**
 * Telegram's own limits on what an update can carry (UTF-16 units, as Telegram counts): a real
 * update never exceeds them, so a longer field is forged or broken and is cut to the limit before
 * anything stores it. Any other string is held to the longest a message may be.
 */
const TELEGRAM_LIMITS: Readonly<Record<string, number>> = {
  text: 4096,
  caption: 1024,
  first_name: 64,
  last_name: 64,
  username: 32,
  title: 128,
  language_code: 35,
  data: 64,
  query: 256,
  invoice_payload: 128,
};
const DEFAULT_LIMIT = 4096;

/**
 * The first thing an update meets after the error boundary: NUL characters (which PostgreSQL cannot
 * store, so a name holding one would fail every update of its user) are removed and fields longer
 * than Telegram allows are cut, with a warning naming what changed.
 */
export function cleanUpdate(deps: Pick<BotDeps, 'logger' | 'metrics'>): Middleware<BotContext> {
  const cleaned = deps.metrics.counter({
    name: 'vitte_bot_updates_cleaned_total',
    help: 'Updates changed at intake: NUL characters removed (nul) or fields cut to Telegram limits (too_long)',
    labelNames: ['reason'],
  });
  return (ctx, next) => {
    const { report } = cleanStrings(ctx.update, (key) => TELEGRAM_LIMITS[key] ?? DEFAULT_LIMIT);
    if (changed(report)) {
      if (report.nul) cleaned.inc({ reason: 'nul' });
      if (report.cut.length) cleaned.inc({ reason: 'too_long' });
      deps.logger.warn(
        { updateId: ctx.update.update_id, nulRemoved: report.nul, cut: report.cut.slice(0, 10) },
        'update cleaned at intake: NUL removed or fields cut to Telegram limits',
      );
    }
    return next();
  };
}
