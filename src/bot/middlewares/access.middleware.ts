import type { Middleware } from 'grammy';
import type { BotContext, BotDeps } from '../context.js';
import type { Notices } from '../notices.js';
import { bannedNotice } from '../support-contact.js';

const DAY_MS = 24 * 3_600_000;

/**
 * What a banned user may still ask: Telegram requires every seller to answer /paysupport (a banned
 * buyer is the one most likely to need it, e.g. for a refund), and the privacy policy and terms are
 * owed to anyone whose data the bot keeps.
 */
const OPEN_TO_BANNED = /^\/(paysupport|privacy|terms)(@\w+)?(\s|$)/;

/**
 * Banned users get one polite refusal per day and nothing else. Telegram's notices about them
 * (they blocked or unblocked the bot) still go through: they only update bookkeeping.
 */
export function refuseBanned(notices: Notices): Middleware<BotContext> {
  return async (ctx, next) => {
    const user = ctx.user;
    if (!user?.banned_at || ctx.myChatMember) return next();
    if (OPEN_TO_BANNED.test(ctx.message?.text ?? '')) return next();
    ctx.handler = 'banned';
    if (ctx.callbackQuery) await ctx.answerCallbackQuery();
    if (ctx.chat?.type === 'private' && (await notices.firstIn(`banned:${user.id}`, DAY_MS))) {
      const notice = await bannedNotice(ctx);
      await ctx.reply(notice.text, notice.html ? { parse_mode: 'HTML' } : {});
    }
  };
}

/**
 * Per-user rate limit over messages and button presses, acting on the point the dedupe middleware
 * counted with its claim (one round trip for both). An over-limit user is warned once per window,
 * not once per message. Payment updates are never limited (never counted).
 */
export function rateLimit(notices: Notices, deps: Pick<BotDeps, 'metrics'>): Middleware<BotContext> {
  const limited = deps.metrics.counter({
    name: 'vitte_bot_rate_limited_total',
    help: 'Updates dropped by the per-user rate limit',
  });
  return async (ctx, next) => {
    const user = ctx.user;
    const decision = ctx.rate;
    if (!user || !decision || decision.allowed) return next();
    ctx.handler = 'rate-limited';
    limited.inc();
    if (ctx.callbackQuery) await ctx.answerCallbackQuery();
    if (await notices.firstIn(`rate-warned:${user.id}`, Math.max(decision.msBeforeNext, 1_000))) {
      await ctx.reply(ctx.t('rate-limited', { seconds: Math.ceil(decision.msBeforeNext / 1000) }));
    }
  };
}
