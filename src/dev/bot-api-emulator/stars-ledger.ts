import { randomBytes } from 'node:crypto';
import type { StarAmount, StarTransaction, TransactionPartnerUser, User } from 'grammy/types';
import { badRequest } from './bot-api-error.js';
import type { PaymentRecord, RefundRecord, StarSubscriptionRecord } from './types.js';

/** Telegram's only allowed subscription period for Stars (30 days). */
export const STARS_SUBSCRIPTION_PERIOD = 2_592_000;

const ALNUM = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';

/** Telegram's Stars charge ids are `stx` and about a hundred letters and digits. */
function newChargeId(): string {
  let id = 'stx';
  for (const b of randomBytes(96)) id += ALNUM[b % ALNUM.length];
  return id;
}

const unix = (ms: number) => Math.floor(ms / 1000);

export interface ChargeInput {
  user: User;
  currency: string;
  total_amount: number;
  invoice_payload: string;
  /** A test may choose it; a fresh Telegram-like id otherwise. */
  telegram_payment_charge_id?: string;
  /** Makes this the first payment of a new Star subscription. */
  subscription_period?: number;
  /** A renewal: the charge joins this subscription. */
  subscription_id?: string;
  /** Raw overrides for odd cases (a renewal of a subscription the emulator never saw). */
  subscription_expiration_date?: number;
  is_recurring?: boolean;
  is_first_recurring?: boolean;
}

/**
 * The bot's money at Telegram: every charge and refund, the Star subscriptions they started, the
 * Star transactions getStarTransactions lists and the balance getMyStarBalance reports.
 */
export class StarsLedger {
  readonly charges = new Map<string, PaymentRecord>();
  readonly refunds: RefundRecord[] = [];
  readonly subscriptions = new Map<string, StarSubscriptionRecord>();
  /** Oldest first; only Stars (XTR) money moves here. */
  private readonly transactions: StarTransaction[] = [];
  private providerSeq = 0;

  constructor(private readonly userOf: (id: number) => User) {}

  /** Books a new charge (and a subscription for a first subscription payment). */
  charge(input: ChargeInput, at = Date.now()): PaymentRecord {
    const id = input.telegram_payment_charge_id ?? newChargeId();
    if (this.charges.has(id)) throw new RangeError(`charge ${id} already exists`);
    const period = input.subscription_period;
    const joined = input.subscription_id ? this.subscriptions.get(input.subscription_id) : undefined;
    const expiration = input.subscription_expiration_date ?? (period ? unix(at) + period : undefined);
    const recurring = input.is_recurring ?? period !== undefined;
    const first = input.is_first_recurring ?? period !== undefined;
    // Stars payments also carry a provider id, in a format Telegram does not document: a unique
    // `<user>_<n>` stands in for it.
    this.providerSeq += 1;
    const record: PaymentRecord = {
      telegram_payment_charge_id: id,
      provider_payment_charge_id: `${input.user.id}_${this.providerSeq}`,
      user_id: input.user.id,
      currency: input.currency,
      total_amount: input.total_amount,
      invoice_payload: input.invoice_payload,
      ...(period !== undefined ? { subscription_id: id } : joined ? { subscription_id: joined.id } : {}),
      ...(expiration !== undefined ? { subscription_expiration_date: expiration } : {}),
      ...(recurring ? { is_recurring: true as const } : {}),
      ...(first ? { is_first_recurring: true as const } : {}),
      update_ids: [],
      refunded: false,
      at,
    };
    this.charges.set(id, record);
    if (period !== undefined && expiration !== undefined) {
      this.subscriptions.set(id, {
        id,
        user_id: input.user.id,
        invoice_payload: input.invoice_payload,
        currency: input.currency,
        total_amount: input.total_amount,
        period,
        expiration_date: expiration,
        is_canceled: false,
        charge_ids: [id],
        at,
      });
    }
    joined?.charge_ids.push(id);
    this.book(record, 'in', at);
    return record;
  }

  /**
   * The next period's charge of a subscription: a new charge id, `is_recurring` without
   * `is_first_recurring`, and an expiration one period later. Telegram does not renew a
   * subscription the bot cancelled, so neither does this (undefined).
   */
  renew(subscriptionId: string, at = Date.now()): PaymentRecord | undefined {
    const sub = this.subscriptions.get(subscriptionId);
    if (!sub || sub.is_canceled) return undefined;
    sub.expiration_date += sub.period;
    return this.charge(
      {
        user: this.userOf(sub.user_id),
        currency: sub.currency,
        total_amount: sub.total_amount,
        invoice_payload: sub.invoice_payload,
        subscription_id: sub.id,
        subscription_expiration_date: sub.expiration_date,
        is_recurring: true,
        is_first_recurring: false,
      },
      at,
    );
  }

  /**
   * refundStarPayment's rules. Telegram documents CHARGE_ALREADY_REFUNDED; for a charge it does not
   * know (or one of another user) it documents nothing, so CHARGE_NOT_FOUND says what happened.
   */
  refund(userId: number, chargeId: string, at = Date.now()): PaymentRecord {
    const payment = this.charges.get(chargeId);
    if (!payment || payment.user_id !== userId) throw badRequest('CHARGE_NOT_FOUND');
    if (payment.refunded) throw badRequest('CHARGE_ALREADY_REFUNDED');
    payment.refunded = true;
    payment.refunded_at = at;
    this.book(payment, 'out', at);
    return payment;
  }

  /**
   * editUserStarSubscription takes the first payment's charge id (MTProto's
   * payments.botCancelStarsSubscription says so); anything else is CHARGE_ID_INVALID, its
   * documented error.
   */
  editSubscription(userId: number, chargeId: string, canceled: boolean): StarSubscriptionRecord {
    const sub = this.subscriptions.get(chargeId);
    if (!sub || sub.user_id !== userId) throw badRequest('CHARGE_ID_INVALID');
    sub.is_canceled = canceled;
    return sub;
  }

  /**
   * In chronological order (oldest first), as the Bot API documents getStarTransactions. MTProto's
   * payments.getStarsTransactions is newest first unless asked otherwise; the gateway reads both.
   */
  list(offset: number, limit: number): StarTransaction[] {
    return this.transactions.slice(offset, offset + limit);
  }

  balance(): StarAmount {
    let amount = 0;
    for (const t of this.transactions) amount += t.source ? t.amount : -t.amount;
    return { amount };
  }

  reset(): void {
    this.charges.clear();
    this.refunds.length = 0;
    this.subscriptions.clear();
    this.transactions.length = 0;
  }

  /** A refund keeps the charge's id, like Telegram's refund transactions. */
  private book(payment: PaymentRecord, direction: 'in' | 'out', at: number): void {
    if (payment.currency !== 'XTR') return;
    const sub = payment.subscription_id ? this.subscriptions.get(payment.subscription_id) : undefined;
    const partner: TransactionPartnerUser = {
      type: 'user',
      transaction_type: 'invoice_payment',
      user: this.userOf(payment.user_id),
      invoice_payload: payment.invoice_payload,
      ...(sub ? { subscription_period: sub.period } : {}),
    };
    this.transactions.push({
      id: payment.telegram_payment_charge_id,
      amount: payment.total_amount,
      date: unix(at),
      ...(direction === 'in' ? { source: partner } : { receiver: partner }),
    });
  }
}
