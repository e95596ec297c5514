import { randomBytes } from 'node:crypto';
import type { Order } from '../../platform/db/schema.js';
import { ConflictError, NotFoundError } from '../../platform/errors.js';
import { hasEndlessPlan } from '../subscriptions/subscriptions.service.js';
import { type Product, SUBSCRIPTION_PERIOD_S } from './catalogue.js';
import { ORDER_ALLOWED } from './payment-states.js';
import type { OrderSnapshot } from './payments.repository.js';
import type { Lang, PaymentsDeps } from './payments.types.js';

/** What the bot needs to send an invoice (sendInvoice, or createInvoiceLink for a subscription). */
export interface InvoiceSpec {
  orderId: number;
  title: string;
  description: string;
  /** The order's opaque reference. */
  payload: string;
  currency: 'XTR';
  price: number;
  /** Set for Star subscriptions (30 days). */
  subscriptionPeriod?: number;
  /** A link made earlier for this same order, to send again instead of making another. */
  link?: string;
}

export type PreCheckoutRefusal =
  | 'unknown_order'
  | 'foreign_order'
  | 'expired'
  | 'amount_mismatch'
  | 'withdrawn'
  | 'banned'
  | 'already_paid'
  | 'already_subscribed'
  | 'endless_plan'
  | 'unavailable';

export type PreCheckoutVerdict = { ok: true; orderId: number } | { ok: false; reason: PreCheckoutRefusal };

export interface PreCheckoutQuery {
  userId: number;
  payload: string;
  currency: string;
  amount: number;
}

/** Telegram gives the bot 10 s; past this our answer is a refusal ("try again") rather than none. */
const PRE_CHECKOUT_DEADLINE_MS = 4_000;
/** An open order is reused (a double tap, /buy twice) only while it has this long left to be paid. */
const REUSE_MIN_LEFT_MS = 60 * 60_000;

/** 16 random bytes: an order reference nobody can guess or turn into another order. */
function newReference(): string {
  return `o${randomBytes(16).toString('base64url')}`;
}

function snapshot(product: Product, lang: Lang): OrderSnapshot {
  return {
    product_code: product.code,
    kind: product.kind,
    title: product.title[lang],
    price: product.price,
    plan: product.plan ?? null,
    days: product.days ?? null,
    images: product.images ?? null,
  };
}

/**
 * Selling: the offers, orders with their snapshot, and the pre-checkout verdict. The verdict reads
 * the database only (orders, the user row, settings cached in process) — never Redis, which
 * queues commands while it is down — and gives up with a refusal well inside Telegram's 10 s.
 */
export class Checkout {
  constructor(private readonly d: PaymentsDeps) {}

  /** Products on sale: active, and (for plans) naming a plan the `plans` setting has. */
  async offers(): Promise<Product[]> {
    const [catalogue, plans] = await Promise.all([
      this.d.settings.get('payments.catalogue'),
      this.d.settings.get('plans'),
    ]);
    return catalogue.filter((p) => {
      if (!p.active) return false;
      if (p.plan === undefined || p.plan in plans) return true;
      this.d.logger.error(
        { product: p.code, plan: p.plan },
        'product names a plan that does not exist; not offered',
      );
      return false;
    });
  }

  /**
   * An order for `code` and the invoice for it. An open order of the same user for the very same
   * snapshot is reused, so a double tap makes one order; a changed price makes a new one and
   * leaves the old order (and its invoice) at the old price until it expires.
   */
  async createOrder(userId: number, code: string, lang: Lang): Promise<InvoiceSpec> {
    const product = (await this.offers()).find((p) => p.code === code);
    if (!product) throw new NotFoundError(`product "${code}" is not on sale`, { reason: 'withdrawn' });
    if (product.kind === 'subscription' && (await this.d.repo.activeStarSubscription(userId))) {
      throw new ConflictError('the user already has a Star subscription', { reason: 'already_subscribed' });
    }
    if (product.kind !== 'pack' && (await this.onEndlessPlan(userId))) {
      throw new ConflictError('the user has a paid plan with no end', { reason: 'endless_plan' });
    }
    const snap = snapshot(product, lang);
    let order = await this.d.repo.findOpenOrder(userId, snap, REUSE_MIN_LEFT_MS);
    if (!order) {
      const ttlHours = await this.d.settings.get('payments.order_ttl_hours');
      order = await this.d.repo.insertOrder({
        ...snap,
        reference: newReference(),
        user_id: userId,
        expires_at: new Date(Date.now() + ttlHours * 3_600_000),
      });
      this.d.logger.info(
        { userId, orderId: order.id, product: code, price: order.price, kind: order.kind },
        'order created',
      );
    }
    return {
      orderId: order.id,
      title: order.title,
      description: product.description[lang],
      payload: order.reference,
      currency: 'XTR',
      price: order.price,
      ...(order.kind === 'subscription' ? { subscriptionPeriod: SUBSCRIPTION_PERIOD_S } : {}),
      ...(order.invoice_link ? { link: order.invoice_link } : {}),
    };
  }

  attachInvoiceLink(orderId: number, link: string): Promise<void> {
    return this.d.repo.setInvoiceLink(orderId, link);
  }

  /** The answer to a pre_checkout_query; a refusal names why (the bot words it for the user). */
  async preCheckout(q: PreCheckoutQuery): Promise<PreCheckoutVerdict> {
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<PreCheckoutVerdict>((resolve) => {
      timer = setTimeout(() => resolve({ ok: false, reason: 'unavailable' }), PRE_CHECKOUT_DEADLINE_MS);
    });
    const verdict = this.judge(q).catch((err: unknown) => {
      this.d.logger.error({ err, userId: q.userId }, 'pre-checkout check failed');
      return { ok: false, reason: 'unavailable' } as const;
    });
    try {
      const v = await Promise.race([verdict, deadline]);
      if (!v.ok && v.reason === 'unavailable')
        this.d.logger.warn({ userId: q.userId }, 'pre-checkout refused: unavailable');
      return v;
    } finally {
      clearTimeout(timer);
    }
  }

  private async judge(q: PreCheckoutQuery): Promise<PreCheckoutVerdict> {
    const order = await this.d.repo.findOrderByReference(q.payload);
    const refuse = (reason: PreCheckoutRefusal): PreCheckoutVerdict => {
      this.d.logger.info({ userId: q.userId, orderId: order?.id, reason }, 'pre-checkout refused');
      return { ok: false, reason };
    };
    if (!order) return refuse('unknown_order');
    if (order.user_id !== q.userId) return refuse('foreign_order');
    const user = await this.d.users.find(q.userId);
    if (!user || user.banned_at) return refuse('banned');
    if (q.currency !== order.currency || q.amount !== order.price) return refuse('amount_mismatch');
    if (order.status === 'paid') return refuse('already_paid');
    if (order.status === 'cancelled') return refuse('withdrawn');
    if (order.status === 'expired' || order.expires_at.getTime() <= Date.now()) {
      await this.close(order, 'expire');
      return refuse('expired');
    }
    const product = (await this.offers()).find((p) => p.code === order.product_code);
    if (!product) {
      await this.close(order, 'cancel');
      return refuse('withdrawn');
    }
    if (order.kind === 'subscription' && (await this.d.repo.activeStarSubscription(q.userId))) {
      return refuse('already_subscribed');
    }
    if (order.kind !== 'pack' && (await this.onEndlessPlan(q.userId))) return refuse('endless_plan');
    return { ok: true, orderId: order.id };
  }

  /** Read from the database (never the cache), as the verdict must be. */
  private async onEndlessPlan(userId: number): Promise<boolean> {
    return hasEndlessPlan(await this.d.subscriptions.get(userId));
  }

  /** An order that can no longer be paid says so for good (one UPDATE; a race with a payment loses). */
  private async close(order: Order, action: 'expire' | 'cancel'): Promise<void> {
    const status = action === 'expire' ? 'expired' : 'cancelled';
    const moved = await this.d.repo.transitionOrder(order.id, ORDER_ALLOWED[action], { status });
    if (moved) this.d.logger.info({ orderId: order.id, userId: order.user_id }, `order ${status}`);
  }
}
