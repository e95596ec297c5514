import type { Logger } from '../../platform/logger.js';
import { LATENCY_BUCKETS, type Metrics } from '../../platform/metrics.js';
import type { PaymentsRepository } from './payments.repository.js';

/** The payments domain's Prometheus metrics, made once per app. */
export function paymentsMetrics(metrics: Metrics, repo: PaymentsRepository, logger: Logger) {
  const open = metrics.gauge({
    name: 'vitte_payments_open',
    help: 'Payments waiting for something, from the database: orphan (an admin decides), refund_pending, refund_failed',
    labelNames: ['status'],
    async collect() {
      try {
        const counts = await repo.countByStatus();
        for (const status of ['orphan', 'refund_pending', 'refund_failed'])
          this.set({ status }, counts[status] ?? 0);
      } catch (err) {
        logger.warn({ err }, 'could not count open payments');
      }
    },
  });
  return {
    open,
    payments: metrics.counter({
      name: 'vitte_payments_total',
      help: 'Stars payments received, by product and outcome (credited, renewed, duplicate, orphan)',
      labelNames: ['product', 'outcome'],
    }),
    stars: metrics.counter({
      name: 'vitte_stars_received_total',
      help: 'Telegram Stars received (every new charge, orphans included)',
    }),
    orphans: metrics.counter({
      name: 'vitte_payment_orphans_total',
      help: 'Payments that matched no order they could pay for, by reason',
      labelNames: ['reason'],
    }),
    refunds: metrics.counter({
      name: 'vitte_payment_refunds_total',
      help: 'Refund outcomes (refunded, already_refunded, reconciled, telegram, rejected, unknown) by who asked',
      labelNames: ['outcome', 'source'],
    }),
    starsRefunded: metrics.counter({
      name: 'vitte_stars_refunded_total',
      help: 'Telegram Stars given back by refunds',
    }),
    preCheckout: metrics.histogram({
      name: 'vitte_precheckout_duration_seconds',
      help: 'From a pre_checkout_query reaching the bot to its answer accepted by Telegram (the limit is 10 s)',
      labelNames: ['result'],
      buckets: LATENCY_BUCKETS,
    }),
    preCheckoutAnswers: metrics.counter({
      name: 'vitte_precheckout_answers_total',
      help: 'Pre-checkout answers by result (ok or the refusal reason)',
      labelNames: ['result'],
    }),
  };
}

export type PaymentsMetrics = ReturnType<typeof paymentsMetrics>;
