import type { Api } from 'grammy';
import type { Notify } from '../../domain/subscriptions/notify.js';
import type { User } from '../../platform/db/schema.js';
import { resolveLocale, type Translator } from '../../platform/i18n/i18n.js';
import { escapeHtml } from './format/telegram-html.js';

/** Sends a translated notice to a user in their language. Users who blocked the bot are skipped. */
export function createNotifier(deps: {
  api: Api;
  i18n: Translator;
  findUser: (id: number) => Promise<User | undefined>;
}): Notify {
  return async (userId, key, vars = {}) => {
    const user = await deps.findUser(userId);
    if (!user || user.bot_blocked_at || user.banned_at) return;
    const locale = resolveLocale(user.language, user.language_code);
    const safe = Object.fromEntries(
      Object.entries(vars).map(([k, v]) => [k, typeof v === 'string' ? escapeHtml(v) : v]),
    );
    await deps.api.sendMessage(userId, deps.i18n.t(locale, key, safe), { parse_mode: 'HTML' });
  };
}
