import { z } from 'zod';

/** Telegram allows Star subscriptions up to this price per period (createInvoiceLink). */
export const MAX_SUBSCRIPTION_STARS = 10_000;
/** The one subscription period Telegram accepts for Stars: 30 days. */
export const SUBSCRIPTION_PERIOD_S = 2_592_000;
/** Our own ceiling for one invoice, far above any sensible price: a typo with extra zeros is refused. */
const MAX_PRICE_STARS = 100_000;

// Telegram's limits for sendInvoice and createInvoiceLink, counted as the emulator and Bot API do.
const title = z.string().trim().min(1, 'is required').max(32, 'at most 32 characters (Telegram)');
const description = z.string().trim().min(1, 'is required').max(255, 'at most 255 characters (Telegram)');
const positive = (max: number) => z.number().int('a whole number').min(1, 'must be at least 1').max(max);

/**
 * One product. A strict object, so a second price (`prices`) or any other unknown field is refused
 * rather than silently dropped: Stars invoices have exactly one price.
 */
export const productSchema = z
  .strictObject({
    code: z.string().regex(/^[a-z0-9_]{1,32}$/, 'lower-case letters, digits and _ (at most 32)'),
    kind: z.enum(['plan', 'pack', 'subscription']),
    price: positive(MAX_PRICE_STARS),
    /** The plan granted (plan and subscription products); its limits come from the `plans` setting. */
    plan: z
      .string()
      .regex(/^[a-z][a-z0-9_]{0,31}$/, 'a plan name')
      .optional(),
    /** Days a plan product adds. */
    days: positive(3650).optional(),
    /** Images a pack adds. */
    images: positive(100_000).optional(),
    title: z.strictObject({ en: title, ru: title }),
    description: z.strictObject({ en: description, ru: description }),
    /** Withdrawn products are not offered and their open orders are refused at checkout. */
    active: z.boolean().default(true),
  })
  .superRefine((p, ctx) => {
    const need = (field: 'plan' | 'days' | 'images', wanted: boolean) => {
      if (wanted && p[field] === undefined)
        ctx.addIssue({ code: 'custom', path: [field], message: 'is required' });
      if (!wanted && p[field] !== undefined)
        ctx.addIssue({ code: 'custom', path: [field], message: `not used by a ${p.kind}` });
    };
    need('plan', p.kind !== 'pack');
    need('days', p.kind === 'plan');
    need('images', p.kind === 'pack');
    if (p.plan === 'free')
      ctx.addIssue({ code: 'custom', path: ['plan'], message: 'the free plan cannot be sold' });
    if (p.kind === 'subscription' && p.price > MAX_SUBSCRIPTION_STARS) {
      ctx.addIssue({
        code: 'custom',
        path: ['price'],
        message: `a Star subscription costs at most ${MAX_SUBSCRIPTION_STARS} per month (Telegram)`,
      });
    }
  });

export const catalogueSchema = z
  .array(productSchema)
  .max(50)
  .superRefine((products, ctx) => {
    const seen = new Set<string>();
    products.forEach((p, i) => {
      if (seen.has(p.code))
        ctx.addIssue({ code: 'custom', path: [i, 'code'], message: 'the code is used twice' });
      seen.add(p.code);
    });
  });

export type Product = z.infer<typeof productSchema>;

const both = (en: string, ru: string) => ({ en, ru });
const plan = (code: string, days: number, price: number, en: string, ru: string): Product => ({
  code,
  kind: 'plan',
  plan: 'pro',
  days,
  price,
  title: both(`Pro · ${en}`, `Pro · ${ru}`),
  description: both(
    `Unlimited messages and 40 images a day for ${en}.`,
    `Безлимитные сообщения и 40 картинок в день на ${ru}.`,
  ),
  active: true,
});
const pack = (images: number, price: number): Product => ({
  code: `pack_${images}`,
  kind: 'pack',
  images,
  price,
  title: both(`${images} images`, `${images} картинок`),
  description: both(
    `${images} extra images. They never expire and are used after your plan's daily images.`,
    `${images} дополнительных картинок. Не сгорают и тратятся после дневных картинок тарифа.`,
  ),
  active: true,
});

/** The original product's prices: Pro plans for 7/30/365 days, image packs, and a monthly subscription. */
export const DEFAULT_CATALOGUE: Product[] = [
  plan('pro_7d', 7, 229, '7 days', '7 дней'),
  plan('pro_30d', 30, 649, '30 days', '30 дней'),
  plan('pro_365d', 365, 4990, '365 days', '365 дней'),
  {
    code: 'pro_monthly',
    kind: 'subscription',
    plan: 'pro',
    price: 599,
    title: both('Pro · monthly', 'Pro · подписка'),
    description: both(
      'Unlimited messages and 40 images a day, renewed every 30 days. Cancel any time in /status.',
      'Безлимитные сообщения и 40 картинок в день, продление каждые 30 дней. Отмена в любой момент в /status.',
    ),
    active: true,
  },
  pack(20, 99),
  pack(50, 219),
  pack(100, 399),
  pack(200, 699),
];
