import { Composer } from 'grammy';
import { escapeHtml } from '../../integrations/telegram/format/telegram-html.js';
import { formatDate } from '../../platform/i18n/i18n.js';
import type { BotContext } from '../context.js';

/**
 * What Telegram's terms ask of every bot (/privacy) and of every seller (/paysupport), plus /terms.
 * The texts are runtime settings the operator edits; /paysupport also lists the user's payments
 * with their ids, which is what support needs to find them.
 */
export const legalHandler = new Composer<BotContext>();

legalHandler.command(['privacy', 'terms'], async (ctx) => {
  ctx.handler = ctx.msg.text.startsWith('/privacy') ? 'privacy' : 'terms';
  const texts = await ctx.deps.settings.get(ctx.handler === 'privacy' ? 'legal.privacy' : 'legal.terms');
  await ctx.reply(texts[ctx.locale], { parse_mode: 'HTML' });
});

legalHandler.command('paysupport', async (ctx) => {
  ctx.handler = 'paysupport';
  if (!ctx.user) return;
  const [contact, payments] = await Promise.all([
    ctx.deps.settings.get('support.contact'),
    ctx.deps.payments.recentPayments(ctx.user.id),
  ]);
  const lines = payments.map((p) =>
    ctx.t('paysupport-line', {
      date: formatDate(p.created_at, ctx.locale),
      title: escapeHtml(p.title ?? p.product_code ?? '—'),
      amount: p.amount,
      status: ctx.t(`payment-status-${p.status}`),
      charge: escapeHtml(p.telegram_payment_charge_id),
    }),
  );
  const list = lines.length ? `${ctx.t('paysupport-recent')}\n${lines.join('\n')}` : ctx.t('paysupport-none');
  await ctx.reply(`${ctx.t('paysupport-title')}\n\n${contact[ctx.locale]}\n\n${list}`, {
    parse_mode: 'HTML',
  });
});
