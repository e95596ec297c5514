import { z } from 'zod';
import { validateTelegramHtml } from '../../integrations/telegram/format/telegram-html.js';
import type { BroadcastAudience } from '../../platform/db/schema.js';
import { ValidationError, type ValidationIssue } from '../../platform/errors.js';

/** Telegram's limits: a message text, and a media caption. */
export const TEXT_LIMIT = 4096;
export const CAPTION_LIMIT = 1024;
const BUTTON_TEXT_LIMIT = 64;
const URL_LIMIT = 2048;

/** Who receives a broadcast (banned, bot-blocked and opted-out users never do). */
export const audienceSchema = z.discriminatedUnion('kind', [
  z.object({ kind: z.literal('all') }),
  /** Users active within the last `days` days. */
  z.object({ kind: z.literal('active'), days: z.number().int().min(1).max(3650) }),
  z.object({ kind: z.literal('plan'), plan: z.string().regex(/^[a-z][a-z0-9_]{0,31}$/, 'a plan name') }),
  /** Users whose chosen (or Telegram) language starts with this code, e.g. "ru". */
  z.object({
    kind: z.literal('language'),
    language: z.string().regex(/^[a-z]{2,3}$/, 'a two- or three-letter language code'),
  }),
]) satisfies z.ZodType<BroadcastAudience>;

/** What a broadcast shows; the same for a real broadcast and a test send. */
export interface BroadcastContentInput {
  /** Telegram HTML (b, i, u, s, a, code, pre, blockquote, tg-spoiler…). */
  text: string;
  /** Photo URL or Telegram file_id; the text becomes its caption (≤ 1024 characters). */
  photo?: string | null | undefined;
  buttonText?: string | null | undefined;
  buttonUrl?: string | null | undefined;
}

export interface ValidContent {
  text: string;
  photo: string | null;
  button: { text: string; url: string } | null;
}

const FILE_ID = /^[A-Za-z0-9_-]{10,256}$/;
const BUTTON_URL = /^(?:https?:\/\/[^\s/?#]+[^\s]*|tg:\/\/[^\s]+)$/i;

const blank = (s: string | null | undefined): boolean => s === undefined || s === null || s.trim() === '';

/** Content checks, collected rather than stopping at the first. */
export function contentIssues(input: BroadcastContentInput): {
  issues: ValidationIssue[];
  content: ValidContent;
} {
  const issues: ValidationIssue[] = [];
  const photo = blank(input.photo) ? null : (input.photo as string).trim();
  if (photo !== null && photo.length > URL_LIMIT) {
    issues.push({ path: 'photo', message: `must be at most ${URL_LIMIT} characters` });
  } else if (photo !== null && !(/^https?:\/\/\S+$/i.test(photo) || FILE_ID.test(photo))) {
    issues.push({ path: 'photo', message: 'must be an http(s) URL or a Telegram file_id' });
  }

  const text = typeof input.text === 'string' ? input.text : '';
  const limit = photo ? CAPTION_LIMIT : TEXT_LIMIT;
  const html = validateTelegramHtml(text, { maxLength: limit });
  if (!html.ok) {
    const tooLong = html.error === 'Bad Request: message is too long';
    issues.push({
      path: 'text',
      message: tooLong
        ? `is longer than ${limit} characters${photo ? ' (the limit of a photo caption)' : ''}`
        : html.error.replace(/^Bad Request: /, ''),
    });
  }

  let button: ValidContent['button'] = null;
  const hasText = !blank(input.buttonText);
  const hasUrl = !blank(input.buttonUrl);
  if (hasText !== hasUrl) {
    issues.push({
      path: hasText ? 'buttonUrl' : 'buttonText',
      message: 'a button needs both a text and a URL',
    });
  } else if (hasText && hasUrl) {
    const buttonText = (input.buttonText as string).trim();
    const url = (input.buttonUrl as string).trim();
    if (buttonText.length > BUTTON_TEXT_LIMIT) {
      issues.push({ path: 'buttonText', message: `must be at most ${BUTTON_TEXT_LIMIT} characters` });
    }
    if (!BUTTON_URL.test(url) || url.length > URL_LIMIT) {
      issues.push({ path: 'buttonUrl', message: 'must be an http(s):// or tg:// URL' });
    }
    button = { text: buttonText, url };
  }
  return { issues, content: { text, photo, button } };
}

export function audienceIssues(audience: unknown): {
  issues: ValidationIssue[];
  audience?: BroadcastAudience;
} {
  const parsed = audienceSchema.safeParse(audience);
  if (parsed.success) return { issues: [], audience: parsed.data };
  return {
    issues: parsed.error.issues.map((i) => ({
      path: ['audience', ...i.path.map(String)].join('.'),
      message: i.message,
    })),
  };
}

export function throwIfIssues(issues: ValidationIssue[], what: string): void {
  if (issues.length) throw new ValidationError(`invalid ${what}`, { issues });
}

/**
 * The CLI's audience notation: `all`, `active:<days>`, `plan:<name>`, `language:<code>`.
 * @throws ValidationError for anything else.
 */
export function parseAudience(spec: string): BroadcastAudience {
  const [kind, arg] = spec.split(':', 2);
  const raw =
    kind === 'all'
      ? { kind }
      : kind === 'active'
        ? { kind, days: Number(arg) }
        : kind === 'plan'
          ? { kind, plan: arg }
          : kind === 'language'
            ? { kind, language: arg?.toLowerCase() }
            : { kind };
  const { issues, audience } = audienceIssues(raw);
  throwIfIssues(issues, `audience "${spec}" (use all, active:<days>, plan:<name> or language:<code>)`);
  return audience as BroadcastAudience;
}
