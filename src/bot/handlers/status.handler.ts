import { Composer } from 'grammy';
import { escapeHtml } from '../../integrations/telegram/format/telegram-html.js';
import { formatDate } from '../../platform/i18n/i18n.js';
import type { BotContext } from '../context.js';
import { buyButton, renewalButton } from '../keyboards/buy.keyboard.js';

/** A plan's display name: a translation when there is one (plan-<name>), else the name itself. */
function planName(ctx: BotContext, plan: string): string {
  const key = `plan-${plan}`;
  const text = ctx.t(key);
  return text === key ? escapeHtml(plan) : text;
}

/**
 * /status: plan, expiry, usage against limits, when the quota resets, purchased images, and a Star
 * subscription's renewal; buttons to buy and to turn renewal off or on.
 */
export const statusHandler = new Composer<BotContext>();

statusHandler.command('status', async (ctx) => {
  ctx.handler = 'status';
  if (!ctx.user) return;
  const { subscriptions, imageCredits, payments } = ctx.deps;
  const [q, purchased, star] = await Promise.all([
    subscriptions.quota(ctx.user.id),
    imageCredits.purchasedLeft(ctx.user.id),
    payments.starSubscription(ctx.user.id),
  ]);
  const t = (key: string, vars?: Record<string, string | number>) => ctx.t(key, vars);
  const lines = [
    ctx.t('status', {
      plan: planName(ctx, q.plan),
      expires: q.expiresAt ? formatDate(q.expiresAt, ctx.locale) : 'none',
      messagesUsed: q.messagesUsed,
      messagesLimit: q.messagesLimit,
      imagesUsed: q.imagesUsed,
      imagesLimit: q.imagesLimit,
      imagesLeft: Math.max(0, q.imagesLimit - q.imagesUsed),
      resetsAt: formatDate(q.resetsAt, ctx.locale),
    }),
    ctx.t('status-purchased', { left: purchased }),
  ];
  if (star) {
    const until = formatDate(star.period_end, ctx.locale);
    lines.push(
      ctx.t(star.renewal_canceled_at ? 'status-subscription-ending' : 'status-subscription', { until }),
    );
  }
  const keyboard = star ? renewalButton(buyButton(t), star.renewal_canceled_at !== null, t) : buyButton(t);
  await ctx.reply(lines.join('\n'), { parse_mode: 'HTML', reply_markup: keyboard });
});
