import type { Middleware } from 'grammy';
import { resolveLocale } from '../../platform/i18n/i18n.js';
import type { BotContext } from '../context.js';

/** `ctx.locale` and `ctx.t`: the user's stored language, else Telegram's, else English. */
export function locale(): Middleware<BotContext> {
  return (ctx, next) => {
    ctx.locale = resolveLocale(ctx.user?.language, ctx.from?.language_code);
    ctx.t = ctx.deps.i18n.forLocale(ctx.locale);
    return next();
  };
}
