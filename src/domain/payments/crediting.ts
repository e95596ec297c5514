import type {
  Order,
  OrphanReason,
  Payment,
  PaymentGrant,
  StarSubscription,
  User,
} from '../../platform/db/schema.js';
import { SUBSCRIPTION_PERIOD_S } from './catalogue.js';
import { ORDER_ALLOWED, STAR_SUBSCRIPTION_ALLOWED } from './payment-states.js';
import { DAY_MS, noticeDate, type PaymentsDeps, SUBSCRIPTION_GRACE_MS } from './payments.types.js';
import type { Refunds } from './refunds.js';

/** A successful_payment as Telegram reported it. */
export interface IncomingPayment {
  userId: number;
  chargeId: string;
  providerChargeId: string | undefined;
  payload: string;
  currency: string;
  amount: number;
  subscriptionExpiresAt: Date | undefined;
  isRecurring: boolean;
  isFirstRecurring: boolean;
  /** The whole update, kept for the admin. */
  raw: unknown;
}

export type CreditResult =
  | { outcome: 'credited' | 'renewed'; payment: Payment; order: Order }
  | { outcome: 'duplicate'; payment: Payment }
  | { outcome: 'orphan'; payment: Payment; reason: OrphanReason };

type Verdict =
  | { kind: 'first' }
  | { kind: 'renewal'; star: StarSubscription }
  | { kind: 'orphan'; reason: OrphanReason };

const PERIOD_MS = SUBSCRIPTION_PERIOD_S * 1000;
/** Waits before the 2nd and 3rd try of a credit whose transaction failed (a database hiccup). */
const RETRY_DELAYS_MS = [250, 1_500];

/**
 * Crediting a successful_payment: one transaction inserts the charge (unique id: the same charge
 * again, in a re-delivered or a new update, finds it and changes nothing), marks the order paid and
 * grants what it sold; the user is told after the commit.
 *
 * Crash safety: everything is one transaction, so a crash leaves either nothing (Telegram re-sends
 * the update, or the admin sees the charge in Telegram's list) or all of it. The order row is
 * locked first, so two charges of one order (a re-delivery racing a new update, a renewal racing a
 * refund) are handled one after the other.
 *
 * Decisions where Telegram leaves it to the seller: a charge that cannot be matched to an order it
 * may pay for — unknown payload, someone else's order, a different amount, a banned or deleted
 * user, an order already paid by another charge (two checkouts accepted before either was paid), a
 * plan that no longer exists —
 * is kept as an orphan and refunded automatically or left to an admin (`payments.orphan_policy`).
 * Nobody is charged twice for one order; no charge is ever dropped.
 */
export class Crediting {
  constructor(
    private readonly d: PaymentsDeps,
    private readonly refunds: Refunds,
  ) {}

  /**
   * Record the charge and grant what it bought. A failed transaction (the database restarting, a
   * deadlock) is tried again: it is all or nothing and keyed by the charge, so a retry can only do
   * what the failed try did not. When every try fails the charge is logged whole, as an error,
   * before the error goes on: Telegram has the money, and getStarTransactions lists the charge.
   */
  async credit(p: IncomingPayment): Promise<CreditResult> {
    for (let attempt = 0; ; attempt++) {
      try {
        return await this.creditOnce(p);
      } catch (err) {
        const log = { err, userId: p.userId, chargeId: p.chargeId, attempt: attempt + 1 };
        const wait = RETRY_DELAYS_MS[attempt];
        if (wait === undefined) {
          this.d.metrics.payments.inc({ product: 'unknown', outcome: 'failed' });
          this.d.logger.error({ ...log, payment: p }, 'payment NOT recorded; credit it by hand');
          throw err;
        }
        this.d.logger.warn(log, 'crediting a payment failed; trying again');
        await new Promise((resolve) => setTimeout(resolve, wait));
      }
    }
  }

  private async creditOnce(p: IncomingPayment): Promise<CreditResult> {
    const result = await this.d.tx.run(async () => {
      const order = await this.d.repo.findOrderByReferenceForUpdate(p.payload);
      const known = await this.d.repo.findPaymentByCharge(p.chargeId);
      if (known) return { outcome: 'duplicate', payment: known } as const;
      const user = await this.d.users.find(p.userId);
      const star =
        order?.kind === 'subscription' && order.status === 'paid'
          ? await this.d.repo.findStarSubscriptionByOrderForUpdate(order.id)
          : undefined;
      // A plan removed from the `plans` setting since the order was made cannot be granted.
      const planGone = order?.plan != null && !(order.plan in (await this.d.settings.get('plans')));
      const verdict = judge(p, order, user, star, planGone);
      const payment = await this.d.repo.insertPayment({
        telegram_payment_charge_id: p.chargeId,
        provider_payment_charge_id: p.providerChargeId ?? null,
        order_id: order?.id ?? null,
        user_id: p.userId,
        product_code: order?.product_code ?? null,
        kind: order?.kind ?? null,
        currency: p.currency,
        amount: p.amount,
        invoice_payload: p.payload,
        status: verdict.kind === 'orphan' ? 'orphan' : 'credited',
        orphan_reason: verdict.kind === 'orphan' ? verdict.reason : null,
        is_recurring: p.isRecurring,
        is_first_recurring: p.isFirstRecurring,
        subscription_expires_at: p.subscriptionExpiresAt ?? null,
        raw_update: JSON.stringify(p.raw),
      });
      // A concurrent insert of the same charge (no order row to queue on) got there first.
      if (!payment) {
        const first = await this.d.repo.findPaymentByCharge(p.chargeId);
        if (!first) throw new Error(`payment ${p.chargeId} vanished`);
        return { outcome: 'duplicate', payment: first } as const;
      }
      if (verdict.kind === 'orphan') {
        const refund = (await this.d.settings.get('payments.orphan_policy')) === 'refund';
        const kept = refund ? (await this.refunds.request(payment.id, 'auto')).after : payment;
        return { outcome: 'orphan', payment: kept, reason: verdict.reason } as const;
      }
      const grant =
        verdict.kind === 'renewal'
          ? await this.renew(p, verdict.star)
          : await this.fulfil(p, order!, payment);
      await this.d.repo.setGrant(payment.id, grant);
      const outcome = verdict.kind === 'renewal' ? 'renewed' : 'credited';
      return { outcome, payment: { ...payment, grant }, order: order! } as const;
    });
    await this.d.tx.afterCommit(() => this.announce(result));
    return result;
  }

  /** The first payment of an order: it becomes paid and grants what it sold. */
  private async fulfil(p: IncomingPayment, order: Order, payment: Payment): Promise<PaymentGrant> {
    const paid = await this.d.repo.transitionOrder(order.id, ORDER_ALLOWED.pay, {
      status: 'paid',
      paid_at: new Date(),
    });
    if (!paid) throw new Error(`order ${order.id} could not be marked paid from ${order.status}`);
    switch (order.kind) {
      case 'plan': {
        const g = await this.d.subscriptions.extendPlan(order.user_id, order.plan!, {
          addMs: order.days! * DAY_MS,
        });
        return { kind: 'plan', ...g };
      }
      case 'pack': {
        const pack = await this.d.imageCredits.grantPack(order.user_id, payment.id, order.images!);
        return { kind: 'pack', packId: pack.id, images: pack.images_total };
      }
      case 'subscription': {
        const periodEnd = p.subscriptionExpiresAt ?? new Date(Date.now() + PERIOD_MS);
        const planEnd = new Date(periodEnd.getTime() + SUBSCRIPTION_GRACE_MS);
        const g = await this.d.subscriptions.extendPlan(order.user_id, order.plan!, {
          addMs: planEnd.getTime() - Date.now(),
          endIfIdle: planEnd,
        });
        const star = await this.d.repo.insertStarSubscription({
          user_id: order.user_id,
          order_id: order.id,
          telegram_payment_charge_id: p.chargeId,
          product_code: order.product_code,
          plan: order.plan!,
          period_end: periodEnd,
        });
        return { kind: 'plan', ...g, starSubscriptionId: star.id };
      }
    }
  }

  /** A renewal extends the plan by the time Telegram's new expiration adds to the period. */
  private async renew(p: IncomingPayment, star: StarSubscription): Promise<PaymentGrant> {
    const periodEnd = p.subscriptionExpiresAt ?? new Date(star.period_end.getTime() + PERIOD_MS);
    const addMs = Math.max(0, periodEnd.getTime() - star.period_end.getTime());
    const g = await this.d.subscriptions.extendPlan(star.user_id, star.plan, {
      addMs,
      endIfIdle: new Date(periodEnd.getTime() + SUBSCRIPTION_GRACE_MS),
    });
    await this.d.repo.transitionStarSubscription(star.id, STAR_SUBSCRIPTION_ALLOWED.renew, {
      status: 'active',
      period_end: periodEnd,
    });
    return { kind: 'plan', ...g, starSubscriptionId: star.id };
  }

  private async announce(r: CreditResult): Promise<void> {
    const { payment } = r;
    const m = this.d.metrics;
    const product = payment.product_code ?? 'none';
    m.payments.inc({ product, outcome: r.outcome });
    const log = {
      userId: payment.user_id,
      paymentId: payment.id,
      chargeId: payment.telegram_payment_charge_id,
    };
    if (r.outcome === 'duplicate') {
      this.d.logger.info(log, 'payment already recorded; nothing changed');
      return;
    }
    m.stars.inc(payment.amount);
    if (r.outcome === 'orphan') {
      m.orphans.inc({ reason: r.reason });
      this.d.logger.warn({ ...log, reason: r.reason, amount: payment.amount }, 'orphan payment recorded');
      const refunding = payment.status === 'orphan' ? 'no' : 'yes';
      this.tell(payment.user_id, 'payment-orphan', { amount: payment.amount, refunding });
      return;
    }
    this.d.logger.info(
      { ...log, outcome: r.outcome, product, amount: payment.amount },
      `payment ${r.outcome}`,
    );
    const grant = payment.grant as PaymentGrant;
    if (grant.kind === 'pack') {
      const left = await this.d.imageCredits.purchasedLeft(payment.user_id);
      this.tell(payment.user_id, 'payment-credited-pack', {
        title: r.order.title,
        images: grant.images,
        left,
      });
    } else {
      if (grant.expiresAt === null) {
        this.tell(payment.user_id, 'payment-credited-endless', { title: r.order.title });
        return;
      }
      const key = r.outcome === 'renewed' ? 'payment-renewed' : 'payment-credited-plan';
      this.tell(payment.user_id, key, { title: r.order.title, until: noticeDate(grant.expiresAt) });
    }
  }

  /** Notices go out without holding up the update (a slow Telegram must not delay the webhook). */
  private tell(userId: number, key: string, vars: Record<string, string | number>): void {
    this.d
      .notify?.(userId, key, vars)
      .catch((err: unknown) => this.d.logger.warn({ err, userId, key }, 'payment notice not delivered'));
  }
}

function judge(
  p: IncomingPayment,
  order: Order | undefined,
  user: User | undefined,
  star: StarSubscription | undefined,
  planGone: boolean,
): Verdict {
  const orphan = (reason: OrphanReason): Verdict => ({ kind: 'orphan', reason });
  if (!order) return orphan('unknown_order');
  if (!user) return orphan('user_unknown');
  if (user.banned_at) return orphan('user_banned');
  if (order.user_id !== p.userId) return orphan('foreign_order');
  if (p.currency !== order.currency || p.amount !== order.price) return orphan('amount_mismatch');
  if (planGone) return orphan('product_unavailable');
  const renewal = p.isRecurring && !p.isFirstRecurring;
  if (order.status !== 'paid') return renewal ? orphan('subscription_unknown') : { kind: 'first' };
  if (!renewal) return orphan('order_already_paid');
  if (!star || star.status === 'refunded') return orphan('subscription_unknown');
  return { kind: 'renewal', star };
}
