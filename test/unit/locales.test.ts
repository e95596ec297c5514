import { readFileSync } from 'node:fs';
import { FluentResource } from '@fluent/bundle';
import { describe, expect, it } from 'vitest';
import { DEFAULT_LOCALE, LOCALES } from '../../src/platform/i18n/i18n.js';

/** Message and term ids as the Fluent parser sees them (an unparsable entry is dropped). */
function keys(locale: string): string[] {
  const source = readFileSync(
    new URL(`../../src/platform/i18n/locales/${locale}.ftl`, import.meta.url),
    'utf8',
  );
  return new FluentResource(source).body.map((entry) => entry.id).sort();
}

describe('bot translations', () => {
  // A key missing in one language shows that user the English text, with no error.
  it.each(LOCALES.filter((l) => l !== DEFAULT_LOCALE))('%s.ftl has exactly the keys of en.ftl', (locale) => {
    const reference = keys(DEFAULT_LOCALE);
    expect(reference.length).toBeGreaterThan(10);
    expect(keys(locale)).toEqual(reference);
  });
});
