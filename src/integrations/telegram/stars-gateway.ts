import type { Api } from 'grammy';
import type { RefundOutcome, StarsGateway } from '../../domain/payments/stars-gateway.js';
import { classifyTelegramError } from './telegram-errors.js';

const PAGE = 100;
/** 20,000 transactions back: far beyond a refund that was asked for minutes ago. */
const MAX_PAGES = 200;

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

    async isRefunded(chargeId, paidAt) {
      const since = Math.floor(paidAt.getTime() / 1000) - 60;
      for (let page = 0; page < MAX_PAGES; page++) {
        const { transactions } = await api.getStarTransactions(
          { offset: page * PAGE, limit: PAGE },
          signal(),
        );
        // A refund keeps the charge's id and has a receiver (money going out).
        if (transactions.some((t) => t.id === chargeId && t.receiver !== undefined)) return true;
        if (transactions.length < PAGE) return false;
        // Telegram lists newest first: once a page reaches back before the payment, nothing older matters.
        const first = transactions[0]!.date;
        const last = transactions[transactions.length - 1]!.date;
        if (first >= last && last < since) return false;
      }
      return false;
    },

    async setRenewalCanceled(userId, chargeId, canceled) {
      await api.editUserStarSubscription(userId, chargeId, canceled, signal());
    },
  };
}
