import type { Middleware } from 'grammy';
import type { User as TelegramUser } from 'grammy/types';
import type { User } from '../../platform/db/schema.js';
import type { BotContext } from '../context.js';
import { resolveLocale } from '../i18n.js';

/** Activity is written at most this often per user (plus whenever the profile changed or they come back). */
const TOUCH_INTERVAL_MS = 5 * 60_000;

function startPayload(ctx: BotContext): string | undefined {
  const text = ctx.message?.text;
  const match = text?.match(/^\/start(?:@\w+)?\s+(\S+)/);
  return match?.[1];
}

function profileChanged(user: User, from: TelegramUser): boolean {
  return (
    user.username !== (from.username ?? null) ||
    user.first_name !== from.first_name ||
    user.last_name !== (from.last_name ?? null) ||
    user.language_code !== (from.language_code ?? null)
  );
}

/**
 * Loads the person behind the update, registering them (with a free plan) on first contact.
 * A `/start <source>` deep link on that first contact is kept as the utm source.
 */
export function loadUser(): Middleware<BotContext> {
  return async (ctx, next) => {
    const from = ctx.from;
    if (!from || from.is_bot) return next();
    const { users } = ctx.deps;
    let user = await users.findCached(from.id);
    if (!user) {
      user = (await users.register(from, { utmSource: startPayload(ctx) })).user;
    } else if (
      user.bot_blocked_at ||
      Date.now() - user.last_active_at.getTime() > TOUCH_INTERVAL_MS ||
      profileChanged(user, from)
    ) {
      await users.touch(from);
      user = {
        ...user,
        username: from.username ?? null,
        first_name: from.first_name,
        last_name: from.last_name ?? null,
        language_code: from.language_code ?? null,
        bot_blocked_at: null,
        last_active_at: new Date(),
      };
    }
    ctx.user = user;
    ctx.locale = resolveLocale(user.language, from.language_code);
    await next();
  };
}
