import { Composer } from 'grammy';
import { escapeHtml } from '../../integrations/telegram/format/telegram-html.js';
import type { BotContext } from '../context.js';

/** Registered last: commands nobody handled get a hint; non-text messages get an explanation. */
export const fallbackHandler = new Composer<BotContext>();

fallbackHandler.on('message:text', async (ctx, next) => {
  const entity = ctx.message.entities?.find((e) => e.type === 'bot_command' && e.offset === 0);
  if (!entity) return next();
  const command = ctx.message.text.slice(0, entity.length).split('@')[0]!;
  ctx.handler = 'unknown-command';
  if (ctx.chat.type !== 'private') return;
  await ctx.reply(ctx.t('unknown-command', { command: escapeHtml(command) }), { parse_mode: 'HTML' });
});

fallbackHandler.on('message', async (ctx) => {
  ctx.handler = 'unsupported';
  if (ctx.chat.type !== 'private' || ctx.message.text) return;
  await ctx.reply(ctx.t('not-text'));
});

fallbackHandler.on('callback_query', async (ctx) => {
  ctx.handler = 'stale-button';
  await ctx.answerCallbackQuery();
});
