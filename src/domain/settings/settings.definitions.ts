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
  'images.workflow': {
    description:
      'The ComfyUI workflow pictures are made with (a file name from the built-in workflows or COMFYUI_WORKFLOW_DIR) and its defaults. Empty checkpoint: the one in the workflow file.',
    schema: z.object({
      name: z.string().regex(/^[a-z0-9][a-z0-9-]{0,63}$/, 'a workflow file name without .json'),
      width: z.number().int().min(64).max(4096).multipleOf(8),
      height: z.number().int().min(64).max(4096).multipleOf(8),
      steps: z.number().int().min(1).max(200),
      negative_prompt: z.string().max(2000),
      checkpoint: z.string().max(255),
    }),
    default: {
      name: 'text-to-image',
      width: 1024,
      height: 1024,
      steps: 25,
      negative_prompt: 'blurry, low quality, watermark, text, deformed',
      checkpoint: '',
    },
  },
  'images.max_prompt_length': {
    description: 'Longest picture prompt a user may send, in characters.',
    schema: z.number().int().min(10).max(4000),
    default: 1000,
  },
  'images.per_user_in_flight': {
    description:
      'Pictures of one user drawn at the same time; further requests wait in line ("yours is #k in the queue").',
    schema: z.number().int().min(1).max(20),
    default: 1,
  },
  'images.per_user_queued': {
    description: 'Unfinished pictures one user may have (drawing and waiting); more are refused.',
    schema: z.number().int().min(1).max(100),
    default: 5,
  },
  'images.timeout_seconds': {
    description:
      'Deadline of one picture from the moment a worker takes it (waiting for a GPU included); past it the run is stopped and the image unit given back.',
    schema: z.number().int().min(10).max(540),
    default: 120,
  },
  'images.deny_list': {
    description:
      'Prompts containing any of these words or phrases (case-insensitive, whole words) are refused before any GPU time. A line written /like this/ is a regular expression.',
    schema: z
      .array(z.string().trim().min(1).max(200).refine(isDenyEntry, 'not a valid /regular expression/'))
      .max(1000),
    default: [] as string[],
  },
  'images.nsfw': {
    description:
      'Prompts the built-in keyword check flags as sexual or nude: "refuse" them, or "allow" them (sent under a spoiler). Sexual content involving minors is always refused.',
    schema: z.enum(['refuse', 'allow']),
    default: 'refuse' as 'refuse' | 'allow',
  },
  'images.picture_button': {
    description: 'Show "🎨 Picture" under AI answers: the AI writes a picture prompt from the recent dialog.',
    schema: z.boolean(),
    default: true,
  },
  'images.prompt_writer': {
    description:
      'System prompt for the AI that writes a picture prompt from a dialog (🎨) or varies one (🔁). It must answer with the prompt only.',
    schema: z.string().min(1).max(4000),
    default:
      'You write prompts for an image generation model (Stable Diffusion XL). From the conversation, write one vivid English prompt of at most 60 words describing a single picture that fits it: subject, setting, style, lighting. Answer with the prompt only, no quotes and no explanations.',
  },
} satisfies Record<string, { description: string; schema: z.ZodType; default: unknown }>;

/** A deny-list entry: a word or phrase, or a `/regular expression/` that compiles. */
function isDenyEntry(entry: string): boolean {
  const m = /^\/(.+)\/$/.exec(entry);
  if (!m) return true;
  try {
    new RegExp(m[1] as string, 'iu');
    return true;
  } catch {
    return false;
  }
}

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
