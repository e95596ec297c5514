import { InlineKeyboard } from 'grammy';
import type { Locale } from '../../platform/i18n/i18n.js';

const NAMES: Record<Locale, string> = { ru: '🇷🇺 Русский', en: '🇬🇧 English' };

export const LANGUAGE_CALLBACK = /^lang:(ru|en)$/;

export function languageKeyboard(current: Locale): InlineKeyboard {
  const kb = new InlineKeyboard();
  for (const locale of Object.keys(NAMES) as Locale[]) {
    kb.text(`${locale === current ? '✅ ' : ''}${NAMES[locale]}`, `lang:${locale}`);
  }
  return kb;
}
