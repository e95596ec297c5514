import type { Middleware } from 'grammy';
import type { RateLimiter } from '../../platform/rate-limit.js';
import type { BotContext, BotDeps } from '../context.js';
import { bannedNotice } from '../support-contact.js';

const DAY_MS = 24 * 3_600_000;

/**
 * Banned users get one polite refusal per day and nothing else. Telegram's notices about them
 * (they blocked or unblocked the bot) still go through: they only update bookkeeping.
 */
export function refuseBanned(): Middleware<BotContext> {
  return async (ctx, next) => {
    const user = ctx.user;
    if (!user?.banned_at || ctx.myChatMember) return next();
    ctx.handler = 'banned';
    if (ctx.callbackQuery) await ctx.answerCallbackQuery();
    if (
      ctx.chat?.type === 'private' &&
      (await ctx.deps.cache.setIfAbsent(`banned-notice:${user.id}`, 1, DAY_MS))
    ) {
      const notice = await bannedNotice(ctx);
      await ctx.reply(notice.text, notice.html ? { parse_mode: 'HTML' } : {});
    }
  };
}

/**
 * Per-user rate limit over messages and button presses. An over-limit user is warned once per
 * window, not once per message. Payment updates are never limited.
 */
export function rateLimit(limiter: RateLimiter, deps: Pick<BotDeps, 'metrics'>): Middleware<BotContext> {
  const limited = deps.metrics.counter({
    name: 'vitte_bot_rate_limited_total',
    help: 'Updates dropped by the per-user rate limit',
  });
  return async (ctx, next) => {
    const user = ctx.user;
    const limitable = (ctx.message && !ctx.message.successful_payment) || ctx.callbackQuery;
    if (!user || !limitable) return next();
    const decision = await limiter.consume(String(user.id));
    if (decision.allowed) return next();
    ctx.handler = 'rate-limited';
    limited.inc();
    if (ctx.callbackQuery) await ctx.answerCallbackQuery();
    if (
      await ctx.deps.cache.setIfAbsent(`rate-warned:${user.id}`, 1, Math.max(decision.msBeforeNext, 1_000))
    ) {
      await ctx.reply(ctx.t('rate-limited', { seconds: Math.ceil(decision.msBeforeNext / 1000) }));
    }
  };
}
