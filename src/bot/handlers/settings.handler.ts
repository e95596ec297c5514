import { Composer } from 'grammy';
import { classifyTelegramError } from '../../integrations/telegram/telegram-errors.js';
import type { BotContext } from '../context.js';
import { NOTIFICATIONS_CALLBACK, settingsKeyboard } from '../keyboards/settings.keyboard.js';

/** /settings: the notifications opt-out (reminders and broadcasts), stored per user. */
export const settingsHandler = new Composer<BotContext>();

settingsHandler.chatType('private').command('settings', async (ctx) => {
  ctx.handler = 'settings';
  if (!ctx.user) return;
  await ctx.reply(ctx.t('settings-title'), {
    parse_mode: 'HTML',
    reply_markup: settingsKeyboard(ctx.user.notifications_enabled, (key) => ctx.t(key)),
  });
});

settingsHandler.callbackQuery(NOTIFICATIONS_CALLBACK, async (ctx) => {
  ctx.handler = 'settings';
  if (!ctx.user) return;
  const enabled = ctx.match[1] === 'on';
  if (ctx.user.notifications_enabled !== enabled) {
    ctx.user = await ctx.deps.users.setNotifications(ctx.user.id, enabled);
  }
  await ctx.answerCallbackQuery({ text: ctx.t('settings-saved') });
  await ctx
    .editMessageReplyMarkup({ reply_markup: settingsKeyboard(enabled, (key) => ctx.t(key)) })
    .catch((err: unknown) => {
      // A stale keyboard pressed again: the markup is already right.
      if (classifyTelegramError(err).kind !== 'not_modified') throw err;
    });
});
