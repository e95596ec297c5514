import type { JobHandlers } from '../../platform/queue/index.js';
import type { Jobs } from '../jobs.js';
import type { PaymentsService } from './payments.service.js';

export function paymentsJobs(
  payments: PaymentsService,
): Pick<JobHandlers<Jobs>, 'payments.refund' | 'payments.sweep'> {
  return {
    'payments.refund': ({ paymentId }, ctx) =>
      payments.runRefund(paymentId, { isLastAttempt: ctx.attempt >= ctx.maxAttempts }),
    'payments.sweep': () => payments.sweep(),
  };
}
