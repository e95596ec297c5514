import type { ImagePack, Order, Payment, RefundSource, StarSubscription } from '../../platform/db/schema.js';
import { NotFoundError } from '../../platform/errors.js';
import type { Metrics } from '../../platform/metrics.js';
import type { Change } from '../change.js';
import type { Product } from './catalogue.js';
import { Checkout, type InvoiceSpec, type PreCheckoutQuery, type PreCheckoutVerdict } from './checkout.js';
import { Crediting, type CreditResult, type IncomingPayment } from './crediting.js';
import { STAR_SUBSCRIPTION_ALLOWED } from './payment-states.js';
import { paymentsMetrics } from './payments.metrics.js';
import type { DayAmount, PaymentSearch } from './payments.repository.js';
import { DAY_MS, type Lang, type PaymentsDeps } from './payments.types.js';
import { type RefundRun, Refunds } from './refunds.js';

export type { InvoiceSpec, PreCheckoutVerdict } from './checkout.js';
export type { CreditResult, IncomingPayment } from './crediting.js';

export interface PaymentDetail {
  payment: Payment;
  order: Order | undefined;
}

/** What a user has bought and holds: the admin's user page. */
export interface UserPurchases {
  payments: Payment[];
  packs: ImagePack[];
  purchasedImagesLeft: number;
  starSubscriptions: StarSubscription[];
}

/** Revenue on the dashboard (days in UTC, oldest first, today included). */
export interface PaymentStats {
  days: string[];
  stars: number[];
  payments: number[];
  stars30d: number;
  refunded30d: number;
  payingUsers30d: number;
  payingUsersTotal: number;
  users: number;
  /** Paying users ÷ all users, in percent (one decimal). */
  conversionPercent: number;
  open: Record<string, number>;
}

/** Star subscriptions whose period ended this long ago without a renewal are marked expired. */
const STAR_EXPIRY_GRACE_MS = 2 * 3_600_000;
/** A refund pending this long without an outcome may have lost its job. */
const STALE_REFUND_MS = 60_000;

type Deps = Omit<PaymentsDeps, 'metrics'> & { metrics: Metrics };

/** A user's running Star subscription is cached this long (and never past its period's end). */
const STAR_CACHE_TTL_MS = 3_600_000;

/**
 * Telegram Stars payments: the catalogue on sale, orders and invoices, the pre-checkout verdict,
 * crediting, refunds, Star subscriptions, and what the admin panel shows. Every state change is one
 * locked transition of the tables in payment-states.ts; every entitlement goes through
 * SubscriptionsService or ImageCreditsService.
 */
export class PaymentsService {
  private readonly d: PaymentsDeps;
  private readonly checkout: Checkout;
  private readonly crediting: Crediting;
  private readonly refunds: Refunds;

  constructor(deps: Deps) {
    this.d = { ...deps, metrics: paymentsMetrics(deps.metrics, deps.repo, deps.logger) };
    this.checkout = new Checkout(this.d);
    this.refunds = new Refunds(this.d);
    this.crediting = new Crediting(this.d, this.refunds);
  }

  // --- buying -----------------------------------------------------------------------------

  offers(): Promise<Product[]> {
    return this.checkout.offers();
  }

  createOrder(userId: number, code: string, lang: Lang): Promise<InvoiceSpec> {
    return this.checkout.createOrder(userId, code, lang);
  }

  attachInvoiceLink(orderId: number, link: string): Promise<void> {
    return this.checkout.attachInvoiceLink(orderId, link);
  }

  preCheckout(q: PreCheckoutQuery): Promise<PreCheckoutVerdict> {
    return this.checkout.preCheckout(q);
  }

  /** How long the answer took (from the update's arrival to Telegram accepting it) and what it was. */
  observePreCheckout(seconds: number, verdict: PreCheckoutVerdict): void {
    const result = verdict.ok ? 'ok' : verdict.reason;
    this.d.metrics.preCheckout.observe({ result: verdict.ok ? 'ok' : 'refused' }, seconds);
    this.d.metrics.preCheckoutAnswers.inc({ result });
  }

  credit(p: IncomingPayment): Promise<CreditResult> {
    return this.crediting.credit(p);
  }

  // --- refunds ----------------------------------------------------------------------------

  requestRefund(paymentId: number, source: RefundSource): Promise<Change<Payment>> {
    return this.refunds.request(paymentId, source);
  }

  refundedByTelegram(chargeId: string): Promise<boolean> {
    return this.refunds.refundedByTelegram(chargeId);
  }

  /** `payments.refund` job. */
  runRefund(paymentId: number, opts: { isLastAttempt: boolean }): Promise<RefundRun> {
    return this.refunds.run(paymentId, opts);
  }

  // --- Star subscriptions -----------------------------------------------------------------

  /** The user's running Star subscription, if any. */
  async starSubscription(userId: number): Promise<StarSubscription | undefined> {
    const cached = await this.d.starCache.get(
      userId,
      async () => ({ star: (await this.d.repo.activeStarSubscription(userId)) ?? null }),
      // Never past the paid period's end: then it is no longer the running one.
      ({ star }, now) =>
        star ? Math.min(STAR_CACHE_TTL_MS, star.period_end.getTime() - now) : STAR_CACHE_TTL_MS,
    );
    return cached?.star ?? undefined;
  }

  /**
   * Turn renewal off (access lasts to the end of the paid period) or back on. Telegram is asked
   * first; only its yes is recorded. Doing what is already done changes nothing.
   */
  async setRenewalCanceled(userId: number, canceled: boolean): Promise<StarSubscription> {
    const star = await this.d.repo.activeStarSubscription(userId);
    if (!star) throw new NotFoundError('no running Star subscription');
    if ((star.renewal_canceled_at !== null) === canceled) return star;
    if (!this.d.gateway) throw new Error('managing subscriptions needs BOT_TOKEN');
    await this.d.gateway.setRenewalCanceled(userId, star.telegram_payment_charge_id, canceled);
    const after = await this.d.repo.transitionStarSubscription(
      star.id,
      STAR_SUBSCRIPTION_ALLOWED.setRenewal,
      {
        status: 'active',
        renewal_canceled_at: canceled ? new Date() : null,
      },
    );
    this.d.logger.info(
      { userId, starSubscriptionId: star.id, canceled },
      'star subscription renewal changed',
    );
    return after ?? star;
  }

  // --- upkeep -----------------------------------------------------------------------------

  /**
   * `payments.sweep`: expire orders past their end and Star subscriptions no renewal came for, and
   * queue again the refunds whose job was lost (with Redis down, or the in-process queue restarted).
   */
  async sweep(): Promise<{ ordersExpired: number; subscriptionsExpired: number; refundsQueued: number }> {
    let ordersExpired = 0;
    for (;;) {
      const n = await this.d.repo.expireOrders(1_000);
      ordersExpired += n;
      if (n < 1_000) break;
    }
    const subscriptionsExpired = await this.d.repo.expireStarSubscriptions(STAR_EXPIRY_GRACE_MS);
    const stale = await this.d.repo.stalePendingRefunds(STALE_REFUND_MS, 500);
    for (const id of stale) await this.refunds.enqueue(id);
    const r = { ordersExpired, subscriptionsExpired, refundsQueued: stale.length };
    if (ordersExpired || subscriptionsExpired || stale.length) this.d.logger.info(r, 'payments swept');
    return r;
  }

  // --- reading ----------------------------------------------------------------------------

  search(filter: PaymentSearch): Promise<Payment[]> {
    return this.d.repo.search({ ...filter, limit: Math.min(Math.max(filter.limit, 1), 500) });
  }

  /** Orphans waiting for an admin, newest first. */
  orphans(limit = 100): Promise<Payment[]> {
    return this.d.repo.search({ status: 'orphan', limit });
  }

  async get(id: number): Promise<PaymentDetail> {
    const payment = await this.d.repo.findPayment(id);
    if (!payment) throw new NotFoundError(`payment ${id} not found`);
    const order = payment.order_id === null ? undefined : await this.d.repo.findOrder(payment.order_id);
    return { payment, order };
  }

  /** Lock a payment for an admin change (in the caller's transaction). */
  async getForUpdate(id: number): Promise<Payment> {
    const payment = await this.d.repo.findPaymentForUpdate(id);
    if (!payment) throw new NotFoundError(`payment ${id} not found`);
    return payment;
  }

  /** The user's latest payments with what they bought (for /paysupport). */
  recentPayments(userId: number, limit = 5): Promise<(Payment & { title: string | null })[]> {
    return this.d.repo.userPaymentsWithTitles(userId, limit);
  }

  async purchases(userId: number): Promise<UserPurchases> {
    const [payments, packs, purchasedImagesLeft, starSubscriptions] = await Promise.all([
      this.d.repo.userPayments(userId, 50),
      this.d.imageCredits.packs(userId),
      this.d.imageCredits.purchasedLeft(userId),
      this.d.repo.starSubscriptions(userId),
    ]);
    return { payments, packs, purchasedImagesLeft, starSubscriptions };
  }

  async stats(now = new Date()): Promise<PaymentStats> {
    const today = Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate());
    const first = new Date(today - 29 * DAY_MS);
    const days = Array.from({ length: 30 }, (_, i) =>
      new Date(first.getTime() + i * DAY_MS).toISOString().slice(0, 10),
    );
    const since30 = new Date(now.getTime() - 30 * DAY_MS);
    const [perDay, refunded30d, payingUsers30d, payingUsersTotal, users, open] = await Promise.all([
      this.d.repo.receivedPerDay(first),
      this.d.repo.refundedSince(since30),
      this.d.repo.payingUsers(since30),
      this.d.repo.payingUsers(),
      this.d.repo.userCount(),
      this.d.repo.countByStatus(),
    ]);
    const byDay = new Map<string, DayAmount>(perDay.map((d) => [d.day, d]));
    const stars = days.map((d) => byDay.get(d)?.stars ?? 0);
    return {
      days,
      stars,
      payments: days.map((d) => byDay.get(d)?.payments ?? 0),
      stars30d: stars.reduce((a, b) => a + b, 0),
      refunded30d,
      payingUsers30d,
      payingUsersTotal,
      users,
      conversionPercent: users ? Math.round((payingUsersTotal / users) * 1000) / 10 : 0,
      open,
    };
  }
}
