import type { Api } from 'grammy';
import type { StarTransaction } from 'grammy/types';
import { describe, expect, it } from 'vitest';
import { telegramStarsGateway } from '../../src/integrations/telegram/stars-gateway.js';

const USER = { id: 7, is_bot: false, first_name: 'Ann' };
const PAID_AT = 1_800_000_000;

/**
 * The bot's transactions at Telegram: `older` payments long before ours, our payment, `between`
 * others, our refund, then `after` more; listed oldest first (what the Bot API documents) or
 * newest first (what MTProto's call does by default).
 */
function ledger(opts: {
  older: number;
  between?: number;
  after?: number;
  /** The `after` transactions all fall within one second. */
  burst?: boolean;
  refunded?: boolean;
}) {
  const list: StarTransaction[] = [];
  const tx = (id: string, date: number, out = false): StarTransaction => ({
    id,
    amount: 10,
    date,
    ...(out
      ? { receiver: { type: 'user', transaction_type: 'invoice_payment', user: USER } }
      : { source: { type: 'user', transaction_type: 'invoice_payment', user: USER } }),
  });
  // Older payments, a few a second, ending a day before ours.
  for (let i = 0; i < opts.older; i++) list.push(tx(`old-${i}`, PAID_AT - 86_400 - (opts.older - i) / 4));
  list.push(tx('ours', PAID_AT));
  for (let i = 0; i < (opts.between ?? 0); i++) list.push(tx(`mid-${i}`, PAID_AT + 1 + i));
  if (opts.refunded !== false) list.push(tx('ours', PAID_AT + 600, true));
  for (let i = 0; i < (opts.after ?? 0); i++) list.push(tx(`new-${i}`, PAID_AT + 700 + (opts.burst ? 0 : i)));
  return list;
}

function fakeApi(transactions: StarTransaction[], order: 'oldest-first' | 'newest-first') {
  const listed = order === 'oldest-first' ? transactions : [...transactions].reverse();
  const calls: { offset: number; limit: number }[] = [];
  const api = {
    async getStarTransactions(other: { offset?: number; limit?: number } = {}) {
      const offset = Math.max(0, other.offset ?? 0);
      const limit = Math.min(100, Math.max(1, other.limit ?? 100));
      calls.push({ offset, limit });
      return { transactions: listed.slice(offset, offset + limit) };
    },
  } as unknown as Api;
  return { gateway: telegramStarsGateway(api, { timeoutMs: 1_000 }), calls };
}

const paidAt = new Date(PAID_AT * 1000);

describe.each(['oldest-first', 'newest-first'] as const)('isRefunded, transactions listed %s', (order) => {
  it('finds a recent refund behind a long history, reading only the recent end', async () => {
    const { gateway, calls } = fakeApi(ledger({ older: 30_000, between: 150, after: 120 }), order);
    expect(await gateway.isRefunded('ours', paidAt)).toBe(true);
    // Finding the end of 30,000 transactions and reading back to the refund, not 300 pages.
    expect(calls.length).toBeLessThan(30);
  });

  it('answers no once the list reaches back before the payment', async () => {
    const { gateway, calls } = fakeApi(
      ledger({ older: 30_000, between: 250, after: 50, refunded: false }),
      order,
    );
    expect(await gateway.isRefunded('ours', paidAt)).toBe(false);
    expect(calls.length).toBeLessThan(30);
  });

  it('a short list is read in one call, and a payment is not taken for its refund', async () => {
    const { gateway, calls } = fakeApi(ledger({ older: 5, refunded: false }), order);
    expect(await gateway.isRefunded('ours', paidAt)).toBe(false);
    expect(calls).toHaveLength(1);
    expect(await fakeApi(ledger({ older: 5 }), order).gateway.isRefunded('ours', paidAt)).toBe(true);
  });

  it('tells the order even when a page of the newest transactions falls within one second', async () => {
    const { gateway, calls } = fakeApi(ledger({ older: 5_000, after: 250, burst: true }), order);
    expect(await gateway.isRefunded('ours', paidAt)).toBe(true);
    expect(calls.length).toBeLessThan(30);
  });

  it('finds a refund whatever the length of the list around page bounds', async () => {
    for (const older of [99, 100, 101, 199, 200, 201, 399, 400]) {
      const list = ledger({ older, after: 0 });
      const { gateway } = fakeApi(list, order);
      expect(await gateway.isRefunded('ours', paidAt), `${list.length} transactions`).toBe(true);
    }
  });
});
