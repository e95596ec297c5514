import type { Api } from 'grammy';
import type { RefundOutcome, StarsGateway } from '../../domain/payments/stars-gateway.js';
import { seenSince } from './star-transactions.js';
import { classifyTelegramError } from './telegram-errors.js';

/** Enough to find the end of millions of transactions and read thousands back from it. */
const MAX_CALLS = 100;

/**
 * The Stars API over a Bot API client without automatic retries: a refund whose answer is lost must
 * reach the job, which reconciles before it asks again, never the client retrying blindly.
 */
export function telegramStarsGateway(api: Api, opts: { timeoutMs: number }): StarsGateway {
  // grammY declares a shim's AbortSignal type; at run time it takes the platform's.
  type Signal = Parameters<Api['refundStarPayment']>[2];
  const signal = () => AbortSignal.timeout(opts.timeoutMs) as unknown as Signal;
  return {
    async refund(userId, chargeId): Promise<RefundOutcome> {
      try {
        await api.refundStarPayment(userId, chargeId, signal());
        return { kind: 'refunded' };
      } catch (err) {
        const failure = classifyTelegramError(err);
        if (failure.kind === 'rejected') {
          if (/CHARGE_ALREADY_REFUNDED/.test(failure.description)) return { kind: 'already_refunded' };
          return { kind: 'rejected', description: failure.description };
        }
        // 5xx, 429, network errors and our own timeout: Telegram may have done it.
        return { kind: 'unknown', description: failure.description };
      }
    },

    isRefunded(chargeId, paidAt) {
      const fetch = async (offset: number, limit: number) =>
        (await api.getStarTransactions({ offset, limit }, signal())).transactions;
      // A refund keeps the charge's id and has a receiver (money going out); it is not older than the payment.
      const since = Math.floor(paidAt.getTime() / 1000) - 60;
      return seenSince(fetch, since, (t) => t.id === chargeId && t.receiver !== undefined, MAX_CALLS);
    },

    async setRenewalCanceled(userId, chargeId, canceled) {
      await api.editUserStarSubscription(userId, chargeId, canceled, signal());
    },
  };
}
