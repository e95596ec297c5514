import type { OrderStatus, PaymentStatus, StarSubscriptionStatus } from '../../platform/db/schema.js';

/**
 * Every state change of the payments domain, as data: the states each action may start from.
 * Each change is one locked transition (`UPDATE … WHERE status IN (from) RETURNING` on a row the
 * transaction holds), so whichever of two racing changes commits first wins and the other finds
 * the row already moved and does nothing.
 */

/**
 * Orders: created → paid | expired | cancelled. A charge is honoured even for an order that expired
 * or was withdrawn after its pre-checkout was accepted: Telegram charged because we said yes.
 */
export const ORDER_ALLOWED = {
  pay: ['created', 'expired', 'cancelled'],
  expire: ['created'],
  cancel: ['created'],
} as const satisfies Record<string, readonly OrderStatus[]>;

/**
 * Payments: credited or orphan when recorded; a refund is requested (→ refund_pending), then either
 * completed (→ refunded: by our refundStarPayment, by CHARGE_ALREADY_REFUNDED, by reconciliation or by
 * Telegram's refunded_payment message — whichever comes first, the entitlement is reverted once) or
 * refused by Telegram for good (→ refund_failed, from which an admin may ask again).
 */
export const PAYMENT_ALLOWED = {
  requestRefund: ['credited', 'orphan', 'refund_failed'],
  completeRefund: ['credited', 'orphan', 'refund_pending', 'refund_failed'],
  failRefund: ['refund_pending'],
} as const satisfies Record<string, readonly PaymentStatus[]>;

/**
 * Star subscriptions: active while paid; a renewal extends (and revives an expired one, when it
 * arrives after the expiry job); renewal can be turned off and on while active; a refund of any of
 * its payments ends it.
 */
export const STAR_SUBSCRIPTION_ALLOWED = {
  renew: ['active', 'expired'],
  setRenewal: ['active'],
  expire: ['active'],
  refund: ['active', 'expired'],
} as const satisfies Record<string, readonly StarSubscriptionStatus[]>;
