import { z } from 'zod';
import { validateTelegramHtml } from '../../integrations/telegram/format/telegram-html.js';

/** Text sent with parse_mode HTML: refused here, with Telegram's own words, rather than at sending. */
const telegramHtml = z
  .string()
  .max(4000)
  .superRefine((text, ctx) => {
    if (!text.trim()) return;
    const check = validateTelegramHtml(text.replaceAll('{name}', 'Name'), { maxLength: 4096 });
    if (!check.ok) ctx.addIssue({ code: 'custom', message: `not valid Telegram HTML: ${check.error}` });
  });
/** Retention texts: Telegram HTML when it parses, else sent as the plain text it is. */
const localized = z.object({ ru: z.string().max(4000), en: z.string().max(4000) });
const planLimits = z.object({
  messages_limit: z.number().int().min(0).max(1_000_000),
  images_limit: z.number().int().min(0).max(1_000_000),
});

/**
 * Every runtime setting: its schema, its default and what it is for. Operators edit them in the
 * admin panel; the code reads them through SettingsService, typed by this map.
 */
export const settingDefinitions = {
  'bot.welcome_text': {
    description:
      "Welcome text for /start, per language (Telegram HTML; {name} is the user's first name). Empty means the built-in text.",
    schema: z.object({ ru: telegramHtml, en: telegramHtml }),
    default: { ru: '', en: '' },
  },
  'llm.system_prompt': {
    description: 'System prompt sent before every dialog (a dialog may override it).',
    schema: z.string().min(1).max(8000),
    default: 'You are Vitte, a helpful assistant in Telegram. Answer concisely in the language of the user.',
  },
  'llm.model': {
    description: 'Model name sent to the LLM provider. Empty means LLM_MODEL from the environment.',
    schema: z.string().max(200),
    default: '',
  },
  plans: {
    description: 'Limits per quota period for each plan. "free" is given to every new user.',
    schema: z
      .record(z.string().regex(/^[a-z][a-z0-9_]{0,31}$/, 'plan names are lower-case words'), planLimits)
      .refine((p) => 'free' in p, 'the "free" plan is required'),
    default: {
      free: { messages_limit: 30, images_limit: 3 },
      premium: { messages_limit: 1000, images_limit: 100 },
    },
  },
  'quota.period_hours': {
    description: 'Length of a quota period in hours; used counters reset when it ends.',
    schema: z
      .number()
      .int()
      .min(1)
      .max(24 * 31),
    default: 24,
  },
  'messages.retention_days': {
    description: 'Chat messages older than this many days are deleted by the cleanup job.',
    schema: z.number().int().min(1).max(3650),
    default: 90,
  },
  'retention.stages': {
    description: 'Reminders sent after this many days of inactivity, each at most once per user.',
    schema: z
      .array(z.object({ days: z.number().int().min(1).max(365), text: localized }))
      .max(10)
      .refine((s) => new Set(s.map((x) => x.days)).size === s.length, 'each stage needs distinct days'),
    default: [
      {
        days: 1,
        text: {
          en: 'Hi! I am here whenever you want to continue our chat.',
          ru: 'Привет! Я на связи, когда захочешь продолжить разговор.',
        },
      },
      {
        days: 3,
        text: {
          en: 'Got a question? Ask me anything — I will be glad to help.',
          ru: 'Есть вопрос? Спроси меня о чём угодно — с радостью помогу.',
        },
      },
      {
        days: 7,
        text: {
          en: 'It has been a week! Your free messages are waiting for you.',
          ru: 'Прошла неделя! Твои бесплатные сообщения ждут тебя.',
        },
      },
    ],
  },
  'retention.window': {
    description: 'Retention messages are only sent between these hours (in the time zone given).',
    schema: z
      .object({
        start_hour: z.number().int().min(0).max(23),
        end_hour: z.number().int().min(1).max(24),
        time_zone: z.string().refine(isTimeZone, 'unknown time zone'),
      })
      .refine((w) => w.start_hour < w.end_hour, 'start_hour must be before end_hour'),
    default: { start_hour: 10, end_hour: 21, time_zone: 'Europe/Moscow' },
  },
  'support.contact': {
    description:
      'Where users get help: an @username or a URL, named in the ban message (and /paysupport). Empty: no contact is named.',
    schema: z
      .string()
      .trim()
      .max(200)
      .refine(
        (v) => v === '' || /^@[A-Za-z0-9_]{5,32}$/.test(v) || /^https?:\/\/\S+$/.test(v),
        'an @username (5-32 letters, digits or _) or an http(s) URL',
      ),
    default: '',
  },
} satisfies Record<string, { description: string; schema: z.ZodType; default: unknown }>;

function isTimeZone(tz: string): boolean {
  try {
    new Intl.DateTimeFormat('en', { timeZone: tz });
    return true;
  } catch {
    return false;
  }
}

export type SettingKey = keyof typeof settingDefinitions;
export type SettingValue<K extends SettingKey> = z.infer<(typeof settingDefinitions)[K]['schema']>;
export type PlanLimits = z.infer<typeof planLimits>;

export function isSettingKey(key: string): key is SettingKey {
  return Object.hasOwn(settingDefinitions, key);
}
