import { Composer } from 'grammy';
import type { Locale } from '../../platform/i18n/i18n.js';
import type { BotContext } from '../context.js';
import { LANGUAGE_CALLBACK, languageKeyboard } from '../keyboards/language.keyboard.js';

/** /language: an inline keyboard; the choice is stored per user and used for every later reply. */
export const languageHandler = new Composer<BotContext>();

languageHandler.command('language', async (ctx) => {
  ctx.handler = 'language';
  await ctx.reply(ctx.t('language-choose'), { reply_markup: languageKeyboard(ctx.locale) });
});

languageHandler.callbackQuery(LANGUAGE_CALLBACK, async (ctx) => {
  ctx.handler = 'language';
  if (!ctx.user) return;
  const locale = ctx.match[1] as Locale;
  ctx.user = await ctx.deps.users.setLanguage(ctx.user.id, locale);
  ctx.locale = locale;
  ctx.t = ctx.deps.i18n.forLocale(locale);
  await ctx.answerCallbackQuery();
  await ctx.editMessageText(ctx.t('language-changed'), { reply_markup: languageKeyboard(locale) });
});
