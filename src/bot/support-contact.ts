import { settingDefinitions } from '../domain/settings/settings.definitions.js';
import { escapeHtml } from '../integrations/telegram/format/telegram-html.js';
import type { BotContext } from './context.js';

/**
 * The refusal a banned user gets. Once the operator has written their own `support.contact` text
 * for the user's language (the built-in one speaks of payments only), it follows the refusal.
 */
export async function bannedNotice(ctx: BotContext): Promise<{ text: string; html: boolean }> {
  const contact = (await ctx.deps.settings.get('support.contact'))[ctx.locale];
  const builtIn = settingDefinitions['support.contact'].default[ctx.locale];
  if (!contact.trim() || contact === builtIn) return { text: ctx.t('banned'), html: false };
  return { text: `${escapeHtml(ctx.t('banned-support'))}\n\n${contact}`, html: true };
}
