import { Composer } from 'grammy';
import { escapeHtml } from '../../integrations/telegram/format/telegram-html.js';
import type { BotContext } from '../context.js';
import { LOCALES, type Locale } from '../i18n.js';

/** Built once: a formatter takes far longer to make than to use (it was a tenth of /status's CPU). */
const DATE_FORMATS = Object.fromEntries(
  LOCALES.map((l) => [
    l,
    new Intl.DateTimeFormat(l, { dateStyle: 'medium', timeStyle: 'short', timeZone: 'UTC' }),
  ]),
) as Record<Locale, Intl.DateTimeFormat>;

/** A date and time in UTC as the locale writes it. */
export function formatDate(date: Date, locale: Locale): string {
  return `${DATE_FORMATS[locale].format(date)} UTC`;
}

/** A plan's display name: a translation when there is one (plan-<name>), else the name itself. */
export function planName(ctx: BotContext, plan: string): string {
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
      resetsAt: formatDate(q.resetsAt, ctx.locale),
    }),
    { parse_mode: 'HTML' },
  );
});
