import { fileURLToPath } from 'node:url';
import { I18n } from '@grammyjs/i18n';
import type { Context } from 'grammy';

export const LOCALES = ['en', 'ru'] as const;
export type Locale = (typeof LOCALES)[number];
export const DEFAULT_LOCALE: Locale = 'en';

/** What code outside the bot needs of the translations: `t(locale, key, vars)`. */
export type Translator = Pick<I18n, 't'>;

/** A stored preference wins; otherwise Telegram's language_code; otherwise English. */
export function resolveLocale(preferred: string | null | undefined, telegram?: string | null): Locale {
  for (const code of [preferred, telegram]) {
    const base = code?.toLowerCase().split(/[-_]/)[0];
    if (base && (LOCALES as readonly string[]).includes(base)) return base as Locale;
  }
  return DEFAULT_LOCALE;
}

/** Built once: a formatter takes far longer to make than to use (it was a tenth of /status's CPU). */
const DATE_FORMATS = Object.fromEntries(
  LOCALES.map((l) => [
    l,
    new Intl.DateTimeFormat(l, { dateStyle: 'medium', timeStyle: 'short', timeZone: 'UTC' }),
  ]),
) as Record<Locale, Intl.DateTimeFormat>;

/** A time as users see it in messages: the locale's medium date and short time, in UTC. */
export function formatDate(date: Date, locale: Locale): string {
  return `${DATE_FORMATS[locale].format(date)} UTC`;
}

/**
 * Fluent translations from `locales/*.ftl`: the app's translator for workers and notices
 * (`i18n.t(locale, key, vars)`), and the bot's middleware, which passes its own context type and
 * locale negotiation. Variables are inserted without Unicode isolation marks because messages are
 * Telegram HTML; callers escape user-provided values.
 */
export function createI18n<C extends Context = Context>(negotiate?: (ctx: C) => Locale): I18n<C> {
  const i18n = new I18n<C>({
    defaultLocale: DEFAULT_LOCALE,
    fluentBundleOptions: { useIsolating: false },
    localeNegotiator: (ctx) => negotiate?.(ctx) ?? resolveLocale(undefined, ctx.from?.language_code),
  });
  const dir = fileURLToPath(new URL('./locales/', import.meta.url));
  for (const locale of LOCALES) {
    i18n.loadLocaleSync(locale, { filePath: `${dir}${locale}.ftl`, bundleOptions: { useIsolating: false } });
  }
  return i18n;
}
