import type { Middleware } from 'grammy';
import type { BotContext } from '../context.js';

function startPayload(ctx: BotContext): string | undefined {
  const text = ctx.message?.text;
  const match = text?.match(/^\/start(?:@\w+)?\s+(\S+)/);
  return match?.[1];
}

/**
 * Loads the person behind the update, registering them (with a free plan) on first contact.
 * A `/start <source>` deep link on that first contact is kept as the utm source.
 */
export function loadUser(): Middleware<BotContext> {
  return async (ctx, next) => {
    const from = ctx.from;
    if (!from || from.is_bot) return next();
    const user = await ctx.deps.users.seen(from, { utmSource: startPayload(ctx) });
    ctx.user = user;
    await next();
  };
}
