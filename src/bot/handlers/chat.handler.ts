import { Composer } from 'grammy';
import { formatDate } from '../../platform/i18n/i18n.js';
import type { BotContext } from '../context.js';
import { buyButton } from '../keyboards/buy.keyboard.js';

/**
 * Plain text is a message to the AI: in private chats always, in groups when it mentions the bot or
 * replies to it. The handler only takes quota, stores and queues; the worker writes the answer.
 */
export const chatHandler = new Composer<BotContext>();

chatHandler.command('stop', async (ctx) => {
  ctx.handler = 'stop';
  if (!ctx.user) return;
  const stopped = await ctx.deps.chat.stop({ userId: ctx.user.id, chatId: ctx.chat.id });
  await ctx.reply(ctx.t(stopped ? 'ai-stopped' : 'ai-nothing-to-stop'));
});

chatHandler.on('message:text', async (ctx, next) => {
  const text = ctx.message.text;
  const isCommand = ctx.message.entities?.some((e) => e.type === 'bot_command' && e.offset === 0);
  if (isCommand || !ctx.user) return next();
  const me = ctx.me.username;
  const addressed =
    ctx.chat.type === 'private' ||
    ctx.message.reply_to_message?.from?.id === ctx.me.id ||
    (me !== undefined && text.includes(`@${me}`));
  if (!addressed) return;
  ctx.handler = 'chat';
  const result = await ctx.deps.chat.accept(ctx.user, text, {
    chatId: ctx.chat.id,
    telegramMessageId: ctx.message.message_id,
  });
  if (result.kind === 'not_configured') await ctx.reply(ctx.t('ai-not-configured'));
  else if (result.kind === 'quota_exceeded') {
    await ctx.reply(
      result.resetsAt
        ? ctx.t('quota-exceeded', { resetsAt: formatDate(result.resetsAt, ctx.locale) })
        : ctx.t('quota-exceeded-never'),
      { reply_markup: buyButton((k) => ctx.t(k)) },
    );
  }
});
