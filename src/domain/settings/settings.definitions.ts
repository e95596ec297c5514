import { z } from 'zod';
import { validateTelegramHtml } from '../../integrations/telegram/format/telegram-html.js';
import { catalogueSchema, DEFAULT_CATALOGUE } from '../payments/catalogue.js';

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
/** A text every user must be able to read: Telegram HTML in both languages, never empty. */
const requiredHtml = telegramHtml.refine((t) => t.trim().length > 0, 'is required');
const localizedHtml = z.object({ ru: requiredHtml, en: requiredHtml });
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
      // What the Pro products sell: "unlimited" messages are a limit nobody reaches in a period.
      pro: { messages_limit: 1_000_000, images_limit: 40 },
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
  'payments.catalogue': {
    description:
      'Products sold for Telegram Stars (/buy): plans for N days, image packs, monthly Star subscriptions. A price change never changes an order already made.',
    schema: catalogueSchema,
    default: DEFAULT_CATALOGUE,
  },
  'payments.order_ttl_hours': {
    description: 'How long an invoice can be paid after it was sent (its order then expires).',
    schema: z
      .number()
      .int()
      .min(1)
      .max(24 * 30),
    default: 24,
  },
  'payments.orphan_policy': {
    description:
      'A payment that matches no order (or comes from a banned user): "refund" it automatically, or keep it for an admin to decide ("manual").',
    schema: z.enum(['refund', 'manual']),
    default: 'refund',
  },
  'support.contact': {
    description:
      'How users get help with a payment (/paysupport; Telegram HTML). Their recent payments are listed below it.',
    schema: localizedHtml,
    default: {
      en: 'Questions about a payment? Write to the operator of this bot and include the payment id shown below. Payments for goods you did not receive are refunded.',
      ru: 'Вопрос по оплате? Напишите оператору этого бота и укажите номер платежа ниже. Платежи за то, что вы не получили, возвращаются.',
    },
  },
  'legal.privacy': {
    description:
      'The privacy policy shown by /privacy (Telegram requires every bot to answer it; Telegram HTML).',
    schema: localizedHtml,
    default: {
      en: '<b>Privacy policy</b>\n\nThis bot keeps what it needs to work: your Telegram id, name, username and language; your messages and the answers (deleted after the retention period); your plan, usage and payments. Your messages are sent to the AI provider that writes the answers. Payments go through Telegram: the bot never sees how you pay. Nothing is sold to anyone. To have your data deleted, contact the operator (/paysupport).',
      ru: '<b>Политика конфиденциальности</b>\n\nБот хранит то, что нужно для работы: ваш id в Telegram, имя, username и язык; ваши сообщения и ответы (удаляются после срока хранения); тариф, расход и платежи. Сообщения передаются AI-провайдеру, который пишет ответы. Оплата проходит через Telegram: бот не видит, чем вы платите. Данные никому не продаются. Чтобы удалить свои данные, напишите оператору (/paysupport).',
    },
  },
  'legal.terms': {
    description: 'The terms of use shown by /terms (Telegram HTML).',
    schema: localizedHtml,
    default: {
      en: '<b>Terms of use</b>\n\nPlans, image packs and subscriptions are digital goods sold for Telegram Stars. A plan gives its limits until its end date; purchased images never expire until used; a subscription renews every 30 days until you cancel it in /status, and access lasts to the end of the paid period. If something you paid for was not delivered, use /paysupport and the payment is refunded. The AI can be wrong: do not rely on it for medical, legal or financial decisions. Abuse may lead to suspension.',
      ru: '<b>Условия использования</b>\n\nТарифы, пакеты картинок и подписки — цифровые товары за Telegram Stars. Тариф действует до даты окончания; купленные картинки не сгорают, пока не потрачены; подписка продлевается каждые 30 дней, пока вы не отмените её в /status, и доступ сохраняется до конца оплаченного периода. Если оплаченное не было предоставлено, напишите в /paysupport — платёж вернут. AI может ошибаться: не полагайтесь на него в медицинских, юридических и финансовых решениях. За злоупотребления доступ может быть ограничен.',
    },
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
