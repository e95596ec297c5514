import { Composer } from 'grammy';
import { escapeHtml, htmlToPlainText } from '../../integrations/telegram/format/telegram-html.js';
import { classifyTelegramError } from '../../integrations/telegram/telegram-errors.js';
import type { BotContext } from '../context.js';

/** /start: the user was registered by the user middleware; greet them with the configured text. */
export const startHandler = new Composer<BotContext>();

startHandler.command('start', async (ctx) => {
  ctx.handler = 'start';
  const { settings } = ctx.deps;
  const [welcome, plans] = await Promise.all([settings.get('bot.welcome_text'), settings.get('plans')]);
  const name = escapeHtml(ctx.from?.first_name ?? '');
  const custom = welcome[ctx.locale]?.trim();
  const text = custom
    ? custom.replaceAll('{name}', name)
    : ctx.t('welcome', { name, messages: plans.free?.messages_limit ?? 0 });
  try {
    await ctx.reply(text, { parse_mode: 'HTML' });
  } catch (err) {
    // A text saved before it was validated: the user still gets it, as plain text.
    if (classifyTelegramError(err).kind !== 'parse_error') throw err;
    ctx.deps.logger.warn({ err, userId: ctx.from?.id }, 'welcome text is not valid HTML; sent as plain text');
    await ctx.reply(htmlToPlainText(text));
  }
});

startHandler.command('help', async (ctx) => {
  ctx.handler = 'help';
  await ctx.reply(ctx.t('help'), { parse_mode: 'HTML' });
});
