import { Composer } from 'grammy';
import { escapeHtml } from '../../integrations/telegram/format/telegram-html.js';
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
  await ctx.reply(text, { parse_mode: 'HTML' });
});

startHandler.command('help', async (ctx) => {
  ctx.handler = 'help';
  await ctx.reply(ctx.t('help'), { parse_mode: 'HTML' });
});
