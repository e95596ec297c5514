import type { SuccessfulPayment, Update, User } from 'grammy/types';
import type { Logger } from 'pino';
import { ControlError } from './control-input.js';
import type { EventHub } from './event-hub.js';
import { PreCheckoutDesk } from './pre-checkout-desk.js';
import { type ChargeInput, STARS_SUBSCRIPTION_PERIOD, StarsLedger } from './stars-ledger.js';
import type { StateStore } from './state-store.js';
import type { InvoiceRecord, PaymentRecord, RefundRecord, StarSubscriptionRecord } from './types.js';
import {
  checkCharge,
  InjectionError,
  type InjectPreCheckoutQueryInput,
  type InjectSuccessfulPaymentInput,
  toUser,
  type UpdateFactory,
  type UserInput,
} from './update-factory.js';

/** A user pays an invoice the bot sent (`message_id`, in `chat_id` or their own chat) or a link. */
export interface CheckoutInput {
  user: UserInput;
  message_id?: number;
  chat_id?: number;
  invoice_link?: string;
}

export type CheckoutResult =
  | { ok: true; pre_checkout_query_id: string; update: Update; payment: PaymentRecord }
  | {
      ok: false;
      pre_checkout_query_id: string;
      /** `declined`: the bot answered ok=false; `timeout`: no accepted answer in time. */
      reason: 'declined' | 'timeout';
      error_message?: string;
    };

export interface PaymentFlowDeps {
  store: StateStore;
  factory: UpdateFactory;
  /** Queues an update for the bot and announces it. */
  deliver(update: Update): Update;
  events: EventHub;
  logger: Logger | undefined;
  preCheckoutTimeoutMs(): number;
}

/**
 * Telegram's side of Stars payments: the checkout a user goes through, the service messages it
 * produces, refunds and subscription renewals, all booked in one ledger.
 */
export class PaymentFlows {
  readonly ledger: StarsLedger;
  readonly desk: PreCheckoutDesk;

  constructor(private readonly deps: PaymentFlowDeps) {
    this.ledger = new StarsLedger((id) => this.userOf(id));
    this.desk = new PreCheckoutDesk(deps.preCheckoutTimeoutMs);
  }

  preCheckoutQuery(input: InjectPreCheckoutQueryInput): Update {
    const update = this.deps.factory.preCheckoutQuery(input);
    const query = update.pre_checkout_query!;
    this.desk.open(query.id, query.from.id);
    return this.deps.deliver(update);
  }

  /**
   * What Telegram does when the user confirms: a pre_checkout_query, then, only if the bot accepts
   * it in time, the charge and its successful_payment message.
   */
  async checkout(input: CheckoutInput): Promise<CheckoutResult> {
    const user = toUser(input.user);
    const invoice = this.findInvoice(input, user.id);
    const update = this.preCheckoutQuery({
      user: input.user,
      invoice_payload: invoice.payload,
      total_amount: invoice.total_amount,
      currency: invoice.currency,
    });
    const id = update.pre_checkout_query!.id;
    const answer = await this.desk.wait(id);
    if (!answer) {
      this.deps.logger?.info(
        { userId: user.id, preCheckoutQueryId: id, timeoutMs: this.deps.preCheckoutTimeoutMs() },
        'pre-checkout query not answered in time: no payment',
      );
      return { ok: false, pre_checkout_query_id: id, reason: 'timeout' };
    }
    if (!answer.ok) {
      return {
        ok: false,
        pre_checkout_query_id: id,
        reason: 'declined',
        ...(answer.error_message !== undefined ? { error_message: answer.error_message } : {}),
      };
    }
    const paid = this.pay(user, {
      user,
      currency: invoice.currency,
      total_amount: invoice.total_amount,
      invoice_payload: invoice.payload,
      ...(invoice.subscription_period !== undefined
        ? { subscription_period: invoice.subscription_period }
        : {}),
    });
    return { ok: true, pre_checkout_query_id: id, ...paid };
  }

  /**
   * A successful_payment for any payload (no invoice or pre-checkout needed). A known charge id
   * delivers that charge again in a new update, as long as it describes the same payment.
   */
  successfulPayment(input: InjectSuccessfulPaymentInput): Update {
    const user = toUser(input.user);
    checkCharge(input);
    const period = input.subscription_period;
    if (period !== undefined && period !== STARS_SUBSCRIPTION_PERIOD)
      throw new InjectionError(`subscription_period must be ${STARS_SUBSCRIPTION_PERIOD}`);
    const known = input.telegram_payment_charge_id
      ? this.ledger.charges.get(input.telegram_payment_charge_id)
      : undefined;
    if (known) {
      if (
        known.user_id !== user.id ||
        known.total_amount !== input.total_amount ||
        known.invoice_payload !== input.invoice_payload
      ) {
        throw new InjectionError('telegram_payment_charge_id belongs to another payment');
      }
      return this.deliverPayment(known, user);
    }
    return this.pay(user, {
      user,
      currency: input.currency ?? 'XTR',
      total_amount: input.total_amount,
      invoice_payload: input.invoice_payload,
      ...(input.telegram_payment_charge_id
        ? { telegram_payment_charge_id: input.telegram_payment_charge_id }
        : {}),
      ...(period !== undefined ? { subscription_period: period } : {}),
      ...(input.subscription_expiration_date !== undefined
        ? { subscription_expiration_date: input.subscription_expiration_date }
        : {}),
      ...(input.is_recurring !== undefined ? { is_recurring: input.is_recurring } : {}),
      ...(input.is_first_recurring !== undefined ? { is_first_recurring: input.is_first_recurring } : {}),
    }).update;
  }

  /** The same charge in a new update and a new message (not a re-delivery of the old update). */
  duplicatePayment(chargeId: string): Update {
    const payment = this.ledger.charges.get(chargeId);
    if (!payment) throw new ControlError('charge not found', 404);
    return this.deliverPayment(payment, this.userOf(payment.user_id));
  }

  /** The next period's charge; takes the subscription's id or any of its charges' ids. */
  renewSubscription(chargeId: string): Update {
    const subscriptionId = this.ledger.charges.get(chargeId)?.subscription_id ?? chargeId;
    const sub = this.ledger.subscriptions.get(subscriptionId);
    if (!sub) throw new ControlError('subscription not found', 404);
    const payment = this.ledger.renew(sub.id);
    if (!payment) {
      throw new ControlError('the bot cancelled this subscription, so Telegram does not renew it', 409);
    }
    this.deps.logger?.info(
      { userId: sub.user_id, subscriptionId: sub.id, chargeId: payment.telegram_payment_charge_id },
      'star subscription renewed',
    );
    this.deps.events.emit('payment', sub.user_id, { payment });
    return this.deliverPayment(payment, this.userOf(sub.user_id));
  }

  /** refundStarPayment: books the refund and sends the refunded_payment message to the bot. */
  refund(userId: number, chargeId: string): RefundRecord {
    const payment = this.ledger.refund(userId, chargeId);
    const update = this.deps.deliver(
      this.deps.factory.refundedPayment(userId, {
        currency: payment.currency,
        total_amount: payment.total_amount,
        invoice_payload: payment.invoice_payload,
        telegram_payment_charge_id: payment.telegram_payment_charge_id,
        provider_payment_charge_id: payment.provider_payment_charge_id,
      }),
    );
    const refund: RefundRecord = {
      user_id: userId,
      telegram_payment_charge_id: chargeId,
      currency: payment.currency,
      total_amount: payment.total_amount,
      invoice_payload: payment.invoice_payload,
      update_id: update.update_id,
      at: payment.refunded_at ?? Date.now(),
    };
    this.ledger.refunds.push(refund);
    this.deps.logger?.info({ userId, chargeId, amount: payment.total_amount }, 'star payment refunded');
    this.deps.events.emit('refund', userId, { refund });
    return refund;
  }

  editSubscription(userId: number, chargeId: string, canceled: boolean): StarSubscriptionRecord {
    const sub = this.ledger.editSubscription(userId, chargeId, canceled);
    this.deps.logger?.info({ userId, subscriptionId: sub.id, canceled }, 'star subscription edited');
    this.deps.events.emit('subscription_edited', userId, { subscription: sub });
    return sub;
  }

  reset(): void {
    this.ledger.reset();
    this.desk.reset();
  }

  private pay(user: User, input: ChargeInput): { update: Update; payment: PaymentRecord } {
    let payment: PaymentRecord;
    try {
      payment = this.ledger.charge(input);
    } catch (err) {
      if (err instanceof RangeError) throw new InjectionError(err.message);
      throw err;
    }
    this.deps.logger?.debug(
      { userId: user.id, chargeId: payment.telegram_payment_charge_id, amount: payment.total_amount },
      'payment charged',
    );
    this.deps.events.emit('payment', user.id, { payment });
    return { update: this.deliverPayment(payment, user), payment };
  }

  private deliverPayment(payment: PaymentRecord, user: User): Update {
    const successful: SuccessfulPayment = {
      currency: payment.currency,
      total_amount: payment.total_amount,
      invoice_payload: payment.invoice_payload,
      telegram_payment_charge_id: payment.telegram_payment_charge_id,
      provider_payment_charge_id: payment.provider_payment_charge_id,
      ...(payment.subscription_expiration_date !== undefined
        ? { subscription_expiration_date: payment.subscription_expiration_date }
        : {}),
      ...(payment.is_recurring ? { is_recurring: true as const } : {}),
      ...(payment.is_first_recurring ? { is_first_recurring: true as const } : {}),
    };
    const update = this.deps.deliver(this.deps.factory.successfulPayment(user, successful));
    payment.update_ids.push(update.update_id);
    return update;
  }

  private findInvoice(input: CheckoutInput, userId: number): InvoiceRecord {
    const { invoices } = this.deps.store;
    let invoice: InvoiceRecord | undefined;
    if (typeof input.invoice_link === 'string' && input.invoice_link !== '') {
      invoice = invoices.find((i) => i.kind === 'link' && i.link === input.invoice_link);
    } else if (Number.isSafeInteger(input.message_id)) {
      const chatId = input.chat_id ?? userId;
      invoice = invoices.find(
        (i) => i.kind === 'message' && i.chat_id === chatId && i.message_id === input.message_id,
      );
    } else {
      throw new ControlError('message_id or invoice_link is required');
    }
    if (!invoice) throw new ControlError('invoice not found', 404);
    return invoice;
  }

  private userOf(id: number): User {
    return this.deps.store.users.get(id) ?? { id, is_bot: false, first_name: `User ${id}` };
  }
}
