import type { BotContext } from './context.js';

/** The refusal a banned user gets, naming the `support.contact` setting when the operator set one. */
export async function bannedNotice(ctx: BotContext): Promise<string> {
  const contact = await ctx.deps.settings.get('support.contact');
  return contact ? ctx.t('banned-contact', { contact }) : ctx.t('banned');
}
