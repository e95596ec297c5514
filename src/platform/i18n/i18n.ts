import { readFileSync } from 'node:fs';
import { FluentBundle, FluentResource, type FluentVariable } from '@fluent/bundle';

export const LOCALES = ['en', 'ru'] as const;
export type Locale = (typeof LOCALES)[number];
export const DEFAULT_LOCALE: Locale = 'en';

export type TranslationVariables = Record<string, FluentVariable>;

/** One locale's messages: `t(key, vars)`. */
export type Translate = (key: string, vars?: TranslationVariables) => string;

/** The app's translations: `t(locale, key, vars)`, and each locale's own `Translate`. */
export interface Translator {
  t(locale: string, key: string, vars?: TranslationVariables): string;
  /** Made once per locale at start: an update takes its locale's, nothing is negotiated per call. */
  forLocale(locale: Locale): Translate;
}

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

/** The first bundle of `chain` that has the message formats it; a missing one shows as `{key}`. */
function format(chain: FluentBundle[], key: string, vars?: TranslationVariables): string {
  for (const bundle of chain) {
    const pattern = bundle.getMessage(key)?.value;
    if (pattern) return bundle.formatPattern(pattern, vars);
  }
  return `{${key}}`;
}

/**
 * Fluent translations from `locales/*.ftl`, one bundle per locale with English behind it for a
 * message a locale lacks (the locales test keeps them in step). Variables are inserted without
 * Unicode isolation marks because messages are Telegram HTML; callers escape user-provided values.
 */
export function createTranslator(): Translator {
  const bundles = Object.fromEntries(
    LOCALES.map((locale) => {
      const bundle = new FluentBundle(locale, { useIsolating: false });
      const source = readFileSync(new URL(`./locales/${locale}.ftl`, import.meta.url), 'utf8');
      bundle.addResource(new FluentResource(source));
      return [locale, bundle];
    }),
  ) as Record<Locale, FluentBundle>;
  const translators = Object.fromEntries(
    LOCALES.map((locale) => {
      const chain = [...new Set([bundles[locale], bundles[DEFAULT_LOCALE]])];
      const translate: Translate = (key, vars) => format(chain, key, vars);
      return [locale, translate];
    }),
  ) as Record<Locale, Translate>;
  return {
    t: (locale, key, vars) => translators[resolveLocale(locale)](key, vars),
    forLocale: (locale) => translators[locale],
  };
}
