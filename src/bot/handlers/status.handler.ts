import { Composer } from 'grammy';
import { escapeHtml } from '../../integrations/telegram/format/telegram-html.js';
import { formatDate } from '../../platform/i18n/i18n.js';
import type { BotContext } from '../context.js';

/** A plan's display name: a translation when there is one (plan-<name>), else the name itself. */
function planName(ctx: BotContext, plan: string): string {
  const key = `plan-${plan}`;
  const text = ctx.t(key);
  return text === key ? escapeHtml(plan) : text;
}

/** /status: plan, expiry, usage against limits, and when the quota resets. */
export const statusHandler = new Composer<BotContext>();

statusHandler.command('status', async (ctx) => {
  ctx.handler = 'status';
  if (!ctx.user) return;
  const q = await ctx.deps.subscriptions.quota(ctx.user.id);
  await ctx.reply(
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
    { parse_mode: 'HTML' },
  );
});
