/** How a refundStarPayment call ended. */
export type RefundOutcome =
  | { kind: 'refunded' }
  /** CHARGE_ALREADY_REFUNDED: the same refund, done earlier (by us or by Telegram). */
  | { kind: 'already_refunded' }
  /** Telegram said no for good (e.g. the charge is unknown to it): retrying would not help. */
  | { kind: 'rejected'; description: string }
  /** No answer, a timeout or a 5xx: the refund may or may not have happened. */
  | { kind: 'unknown'; description: string };

/** What the payments domain asks of Telegram's Stars API (implemented over the Bot API). */
export interface StarsGateway {
  refund(userId: number, chargeId: string): Promise<RefundOutcome>;
  /**
   * Whether Telegram's transaction list (getStarTransactions) shows this charge refunded. Throws
   * when Telegram cannot be asked; `paidAt` bounds how far back a refund can be.
   */
  isRefunded(chargeId: string, paidAt: Date): Promise<boolean>;
  /** editUserStarSubscription: turn a Star subscription's renewal off (true) or back on. */
  setRenewalCanceled(userId: number, chargeId: string, canceled: boolean): Promise<void>;
}
