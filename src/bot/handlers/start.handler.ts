import { Composer } from 'grammy';
import { FREE_PLAN } from '../../domain/subscriptions/subscriptions.service.js';
import { escapeHtml, htmlToPlainText } from '../../integrations/telegram/format/telegram-html.js';
import { classifyTelegramError } from '../../integrations/telegram/telegram-errors.js';
import type { BotContext } from '../context.js';
import { buyButton } from '../keyboards/buy.keyboard.js';

/** /start: the user was registered by the user middleware; greet them with the configured text. */
export const startHandler = new Composer<BotContext>();

startHandler.command('start', async (ctx) => {
  ctx.handler = 'start';
  const { settings, subscriptions } = ctx.deps;
  const [welcome, plans, sub] = await Promise.all([
    settings.get('bot.welcome_text'),
    settings.get('plans'),
    ctx.user ? subscriptions.get(ctx.user.id) : undefined,
  ]);
  // Free users see what they could buy; a paying user's welcome stays uncluttered.
  const extra = sub?.plan === FREE_PLAN ? { reply_markup: buyButton((k) => ctx.t(k)) } : {};
  const name = escapeHtml(ctx.from?.first_name ?? '');
  const custom = welcome[ctx.locale]?.trim();
  const text = custom
    ? custom.replaceAll('{name}', name)
    : ctx.t('welcome', { name, messages: plans.free?.messages_limit ?? 0 });
  try {
    await ctx.reply(text, { parse_mode: 'HTML', ...extra });
  } catch (err) {
    // A text saved before it was validated: the user still gets it, as plain text.
    if (classifyTelegramError(err).kind !== 'parse_error') throw err;
    ctx.deps.logger.warn({ err, userId: ctx.from?.id }, 'welcome text is not valid HTML; sent as plain text');
    await ctx.reply(htmlToPlainText(text), extra);
  }
});

startHandler.command('help', async (ctx) => {
  ctx.handler = 'help';
  await ctx.reply(ctx.t('help'), { parse_mode: 'HTML' });
});
