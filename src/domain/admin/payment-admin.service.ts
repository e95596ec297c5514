import type { Payment } from '../../platform/db/schema.js';
import type { Transactor } from '../../platform/db/transactor.js';
import type { PaymentsService } from '../payments/payments.service.js';
import type { Actor, AuditService } from './audit.service.js';

const refundAudit = (p: Payment) => ({
  status: p.status,
  amount: p.amount,
  product: p.product_code,
  user_id: p.user_id,
  charge: p.telegram_payment_charge_id,
  orphan_reason: p.orphan_reason,
});

/**
 * Payments handled from the panel. A refund request and its audit row commit in one transaction,
 * so a refund whose audit row cannot be written is never asked for (its job is queued after the
 * commit). Catalogue changes are settings, audited by SettingsAdminService.
 */
export class PaymentAdminService {
  constructor(
    private readonly tx: Transactor,
    private readonly payments: PaymentsService,
    private readonly audit: AuditService,
  ) {}

  refund(actor: Actor, paymentId: number): Promise<Payment> {
    return this.tx.run(async () => {
      const { before, after } = await this.payments.requestRefund(paymentId, 'admin');
      await this.audit.record(actor, {
        action: 'payment.refund',
        targetType: 'payment',
        targetId: paymentId,
        before: refundAudit(before),
        after: refundAudit(after),
      });
      return after;
    });
  }
}
