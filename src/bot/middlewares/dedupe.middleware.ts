import type { Middleware } from 'grammy';
import { RetryLaterError } from '../../platform/errors.js';
import type { RateLimiter } from '../../platform/rate-limit.js';
import type { BotContext, BotDeps } from '../context.js';
import type { UpdateClaims } from '../update-claims.js';
import { isDeferrable } from './observe.middleware.js';

/** Messages and button presses count against the sender's rate limit; payments never do. */
function limitable(ctx: BotContext): boolean {
  return Boolean(
    ctx.from && !ctx.from.is_bot && ((ctx.message && !ctx.message.successful_payment) || ctx.callbackQuery),
  );
}

/**
 * Each update is handled once, and counts as handled only once its effects are committed. The
 * update is claimed first; a re-delivery of one that is done is dropped; one that another attempt
 * is handling right now is refused for later (webhook: non-2xx, so Telegram re-sends it). When the
 * attempt fails in a way a retry can fix (the database is down), the claim is given back, so the
 * re-delivery is handled; otherwise the update is marked done once the chain has run.
 *
 * The sender's rate-limit point is counted in the same tick as the claim, so both share one Redis
 * round trip; the rateLimit middleware acts on the decision later, after the ban check.
 */
export function dedupe(
  claims: UpdateClaims,
  limiter: RateLimiter,
  deps: Pick<BotDeps, 'metrics' | 'logger'>,
): Middleware<BotContext> {
  const duplicates = deps.metrics.counter({
    name: 'vitte_bot_duplicate_updates_total',
    help: 'Updates dropped because their update_id was already handled',
  });
  return async (ctx, next) => {
    const botId = ctx.me.id;
    const updateId = ctx.update.update_id;
    const [claim, rate] = await Promise.all([
      claims.claim(botId, updateId),
      limitable(ctx) ? limiter.consume(String(ctx.from?.id)) : undefined,
    ]);
    if (claim === 'done') {
      duplicates.inc();
      deps.logger.info('duplicate update dropped');
      return;
    }
    if (claim === 'busy') throw new RetryLaterError('the update is being handled by another attempt', 1);
    ctx.rate = rate;
    try {
      await next();
    } catch (err) {
      if (isDeferrable(err)) await claims.release(botId, updateId);
      else await claims.done(botId, updateId);
      throw err;
    }
    await claims.done(botId, updateId);
  };
}
