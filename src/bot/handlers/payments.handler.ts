import { Composer } from 'grammy';
import { resolveLocale } from '../../platform/i18n/i18n.js';
import type { BotContext } from '../context.js';

/**
 * Updates that carry money, handled before sequencing, dedupe, user loading, the ban filter and the
 * rate limit, so that none of them can delay or drop one:
 * - a pre_checkout_query must be answered within 10 s, also while the user's chat has an update in
 *   flight (sequencing keys a query, which has no chat, on the user's private chat) and while Redis
 *   is down (dedupe, the user cache and the rate limiter go through Redis, whose client queues
 *   commands while it is away). This path reads PostgreSQL only.
 * - a successful_payment is recorded whatever the user's state: a banned user's payment becomes an
 *   orphan, never nothing. Its charge id is unique in the database, which makes a re-delivered
 *   update harmless without the Redis-backed dedupe.
 * - a refunded_payment reverts what the payment granted, once.
 */
export const paymentUpdates = new Composer<BotContext>();

paymentUpdates.on('pre_checkout_query', async (ctx) => {
  ctx.handler = 'pre-checkout';
  const started = performance.now();
  const q = ctx.preCheckoutQuery;
  const { payments, users, i18n, logger } = ctx.deps;
  const verdict = await payments.preCheckout({
    userId: q.from.id,
    payload: q.invoice_payload,
    currency: q.currency,
    amount: q.total_amount,
  });
  if (verdict.ok) {
    await ctx.answerPreCheckoutQuery(true);
  } else {
    const user = await users.find(q.from.id).catch(() => undefined);
    const locale = resolveLocale(user?.language, q.from.language_code);
    await ctx.answerPreCheckoutQuery(false, i18n.t(locale, `precheckout-${verdict.reason}`));
  }
  const seconds = (performance.now() - started) / 1000;
  payments.observePreCheckout(seconds, verdict);
  logger.info(
    {
      userId: q.from.id,
      ok: verdict.ok,
      reason: verdict.ok ? undefined : verdict.reason,
      ms: Math.round(seconds * 1000),
    },
    'pre-checkout answered',
  );
});

paymentUpdates.on('message:successful_payment', async (ctx) => {
  ctx.handler = 'payment';
  const sp = ctx.message.successful_payment;
  await ctx.deps.payments.credit({
    userId: ctx.from.id,
    chargeId: sp.telegram_payment_charge_id,
    providerChargeId: sp.provider_payment_charge_id || undefined,
    payload: sp.invoice_payload,
    currency: sp.currency,
    amount: sp.total_amount,
    subscriptionExpiresAt:
      sp.subscription_expiration_date === undefined
        ? undefined
        : new Date(sp.subscription_expiration_date * 1000),
    isRecurring: sp.is_recurring === true,
    isFirstRecurring: sp.is_first_recurring === true,
    raw: ctx.update,
  });
});

paymentUpdates.on('message:refunded_payment', async (ctx) => {
  ctx.handler = 'refunded-payment';
  await ctx.deps.payments.refundedByTelegram(ctx.message.refunded_payment.telegram_payment_charge_id);
});
