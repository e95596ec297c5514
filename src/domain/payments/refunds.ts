import type { Payment, PaymentGrant, RefundSource } from '../../platform/db/schema.js';
import { ConflictError, NotFoundError } from '../../platform/errors.js';
import type { Change } from '../change.js';
import { PAYMENT_ALLOWED, STAR_SUBSCRIPTION_ALLOWED } from './payment-states.js';
import type { PaymentsDeps } from './payments.types.js';
import type { RefundOutcome } from './stars-gateway.js';

/** How a refund was found done: our call, Telegram's "already refunded", its transaction list, or its message. */
export type RefundCompletion = 'refunded' | 'already_refunded' | 'reconciled' | 'telegram';

/** Thrown to make the refund job try again: Telegram's answer was lost, the refund may have happened. */
export class RefundOutcomeUnknownError extends Error {
  override name = 'RefundOutcomeUnknownError';
}

export type RefundRun = { outcome: RefundCompletion | 'rejected' | 'failed' } | { skipped: string };

/**
 * Refunds. A refund is requested (admin, or automatically for an orphan) as a locked transition to
 * refund_pending plus a `payments.refund` job queued after the commit; the job asks Telegram and
 * records the answer. Whatever reports the refund first — our call succeeding, Telegram answering
 * CHARGE_ALREADY_REFUNDED, its transaction list, or its refunded_payment message — moves the payment
 * to refunded and reverts what it granted, in one transaction; the others find it refunded and do
 * nothing. So the entitlement is taken back exactly once.
 *
 * Crash safety: every refundStarPayment call is counted in the row (committed) before it is made, so
 * an attempt that follows one whose answer was lost (a timeout, a 5xx, a crash) first asks Telegram's
 * transaction list whether the refund happened, and only then asks again. Asking again is harmless
 * anyway: Telegram refunds a charge once and answers CHARGE_ALREADY_REFUNDED after that. A job lost
 * with its queue is queued again by the sweep (refund_pending for over a minute; the job's dedupe key
 * makes that a no-op while it exists).
 */
export class Refunds {
  constructor(private readonly d: PaymentsDeps) {}

  /** Ask for a refund (in the caller's transaction when there is one: an audit row, a credit). */
  async request(paymentId: number, source: RefundSource): Promise<Change<Payment>> {
    const change = await this.d.tx.run(async () => {
      const before = await this.d.repo.findPaymentForUpdate(paymentId);
      if (!before) throw new NotFoundError(`payment ${paymentId} not found`);
      const allowed: readonly string[] = PAYMENT_ALLOWED.requestRefund;
      if (!allowed.includes(before.status)) {
        throw new ConflictError(`cannot refund a payment that is ${before.status}`, {
          status: before.status,
        });
      }
      const after = await this.d.repo.transitionPayment(paymentId, PAYMENT_ALLOWED.requestRefund, {
        status: 'refund_pending',
        refund_source: source,
        refund_requested_at: new Date(),
        refund_error: null,
      });
      if (!after) throw new Error(`payment ${paymentId} changed under its row lock`);
      return { before, after };
    });
    this.d.logger.info(
      { paymentId, userId: change.after.user_id, source, from: change.before.status },
      'refund requested',
    );
    await this.d.tx.afterCommit(() => {
      // Not awaited: with Redis down the enqueue would hold up the caller (an update, a page); the
      // sweep queues whatever did not make it.
      this.enqueue(paymentId).catch((err: unknown) =>
        this.d.logger.warn({ err, paymentId }, 'refund job not queued; the sweep will queue it'),
      );
    });
    return change;
  }

  enqueue(paymentId: number): Promise<unknown> {
    return this.d.queue.enqueue('payments.refund', { paymentId }, { key: `refund-${paymentId}` });
  }

  /** Telegram's refunded_payment message: the refund happened, whoever asked for it. */
  async refundedByTelegram(chargeId: string): Promise<boolean> {
    const payment = await this.d.repo.findPaymentByCharge(chargeId);
    if (!payment) {
      this.d.logger.warn({ chargeId }, 'refunded_payment for a charge we never recorded');
      this.d.metrics.refunds.inc({ outcome: 'unknown_charge', source: 'telegram' });
      return false;
    }
    return this.complete(payment.id, 'telegram');
  }

  /**
   * Record a refund as done and revert what the payment granted, once: false when it was recorded
   * before (by whichever path came first).
   */
  async complete(paymentId: number, how: RefundCompletion): Promise<boolean> {
    const done = await this.d.tx.run(async () => {
      const p = await this.d.repo.findPaymentForUpdate(paymentId);
      const allowed: readonly string[] = PAYMENT_ALLOWED.completeRefund;
      if (!p || !allowed.includes(p.status)) return undefined;
      const after = await this.d.repo.transitionPayment(paymentId, PAYMENT_ALLOWED.completeRefund, {
        status: 'refunded',
        refunded_at: new Date(),
        refund_source: p.refund_source ?? 'telegram',
        refund_error: null,
      });
      if (!after) throw new Error(`payment ${paymentId} changed under its row lock`);
      const reverted = p.grant ? await this.revert(p, p.grant as PaymentGrant) : 'nothing granted';
      return { payment: after, reverted };
    });
    if (!done) {
      this.d.logger.info({ paymentId, how }, 'refund already recorded');
      return false;
    }
    const { payment, reverted } = done;
    await this.d.tx.afterCommit(() => {
      this.d.metrics.refunds.inc({ outcome: how, source: payment.refund_source ?? 'telegram' });
      this.d.metrics.starsRefunded.inc(payment.amount);
      this.d.logger.info(
        { paymentId, userId: payment.user_id, how, reverted, amount: payment.amount },
        'payment refunded',
      );
      this.d
        .notify?.(payment.user_id, 'payment-refunded', { amount: payment.amount })
        .catch((err: unknown) => this.d.logger.warn({ err, paymentId }, 'refund notice not delivered'));
    });
    return true;
  }

  /** `payments.refund`: one attempt. Throws RefundOutcomeUnknownError to be retried. */
  async run(paymentId: number, opts: { isLastAttempt: boolean }): Promise<RefundRun> {
    const p = await this.d.repo.findPayment(paymentId);
    if (!p) return { skipped: 'no such payment' };
    if (p.status !== 'refund_pending') return { skipped: `payment is ${p.status}` };
    const gateway = this.d.gateway;
    if (!gateway) throw new Error('refunds need BOT_TOKEN');
    const source = p.refund_source ?? 'admin';
    if (p.refund_attempts > 0 && (await gateway.isRefunded(p.telegram_payment_charge_id, p.created_at))) {
      await this.complete(paymentId, 'reconciled');
      return { outcome: 'reconciled' };
    }
    await this.d.repo.noteRefundAttempt(paymentId);
    const outcome: RefundOutcome = await gateway.refund(p.user_id, p.telegram_payment_charge_id);
    switch (outcome.kind) {
      case 'refunded':
      case 'already_refunded':
        await this.complete(paymentId, outcome.kind);
        return { outcome: outcome.kind };
      case 'rejected':
        await this.fail(paymentId, outcome.description, 'rejected', source);
        return { outcome: 'rejected' };
      case 'unknown':
        this.d.metrics.refunds.inc({ outcome: 'unknown', source });
        if (opts.isLastAttempt) {
          await this.fail(paymentId, `no answer from Telegram: ${outcome.description}`, 'failed', source);
          return { outcome: 'failed' };
        }
        this.d.logger.warn(
          { paymentId, error: outcome.description },
          'refund outcome unknown; will reconcile',
        );
        throw new RefundOutcomeUnknownError(outcome.description);
    }
  }

  private async fail(paymentId: number, error: string, outcome: string, source: RefundSource): Promise<void> {
    const moved = await this.d.repo.transitionPayment(paymentId, PAYMENT_ALLOWED.failRefund, {
      status: 'refund_failed',
      refund_error: error.slice(0, 500),
    });
    if (moved) {
      this.d.metrics.refunds.inc({ outcome, source });
      this.d.logger.error({ paymentId, error }, 'refund failed; an admin can ask again');
    }
  }

  /** Take back what the payment granted (inside the refund's transaction). */
  private async revert(p: Payment, grant: PaymentGrant): Promise<string> {
    if (grant.kind === 'pack') {
      const removed = await this.d.imageCredits.revokePack(grant.packId);
      return `pack: ${removed} of ${grant.images} images removed`;
    }
    const how = await this.d.subscriptions.revertPlanGrant(p.user_id, grant);
    if (grant.starSubscriptionId !== undefined) await this.endStarSubscription(grant.starSubscriptionId);
    return `plan ${grant.plan}: ${how}`;
  }

  /**
   * A refunded Star subscription ends here, and its renewal is turned off at Telegram so the user
   * is not charged again for what they were refunded.
   */
  private async endStarSubscription(id: number): Promise<void> {
    const star = await this.d.repo.transitionStarSubscription(id, STAR_SUBSCRIPTION_ALLOWED.refund, {
      status: 'refunded',
    });
    const gateway = this.d.gateway;
    if (!star || star.renewal_canceled_at || !gateway) return;
    await this.d.tx.afterCommit(() => {
      gateway
        .setRenewalCanceled(star.user_id, star.telegram_payment_charge_id, true)
        .catch((err: unknown) =>
          this.d.logger.warn(
            { err, starSubscriptionId: id },
            'could not cancel the renewal of a refunded subscription',
          ),
        );
    });
  }
}
