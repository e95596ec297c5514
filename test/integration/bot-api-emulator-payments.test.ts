import { Api, GrammyError, HttpError } from 'grammy';
import type { Update } from 'grammy/types';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  type BotApiEmulator,
  type CheckoutResult,
  createBotApiEmulator,
  EmulatorClientError,
} from '../../src/dev/bot-api-emulator/index.js';

const ANN = { id: 2001, first_name: 'Ann' };
const BEN = { id: 2002, first_name: 'Ben' };
const MONTH = 2_592_000;
const STARS = { currency: 'XTR', prices: [{ label: 'Premium', amount: 250 }] };
const QUERY_INVALID = 'Bad Request: query is too old and response timeout expired or query ID is invalid';

let emu: BotApiEmulator;
let api: Api;
let offset = 0;

/** Polls like a bot and confirms what it got, returning the first update `pick` accepts. */
async function nextUpdate<T>(pick: (u: Update) => T | undefined): Promise<T> {
  for (;;) {
    const updates = await api.getUpdates({ offset, timeout: 5 });
    if (updates.length) offset = updates.at(-1)!.update_id + 1;
    for (const u of updates) {
      const value = pick(u);
      if (value !== undefined) return value;
    }
  }
}

/** Fails with the Bot API error the call gets (a GrammyError carries error_code and description). */
async function apiError(call: Promise<unknown>): Promise<{ error_code: number; description: string }> {
  const err = await call.then(
    () => undefined,
    (e: unknown) => e,
  );
  if (!(err instanceof GrammyError)) throw new Error(`expected a Bot API error, got ${String(err)}`);
  return { error_code: err.error_code, description: err.description };
}

/** A user pays an invoice while the test plays the bot and answers the pre-checkout query. */
async function payAnswering(
  input: Parameters<BotApiEmulator['client']['checkout']>[0],
  answer: { ok: true } | { ok: false; error_message: string },
): Promise<CheckoutResult> {
  const checkout = emu.client.checkout(input);
  const query = await nextUpdate((u) => u.pre_checkout_query);
  await api.answerPreCheckoutQuery(
    query.id,
    answer.ok,
    answer.ok ? undefined : { error_message: answer.error_message },
  );
  return checkout;
}

async function paySubscription(user = ANN, payload = 'sub:premium') {
  const link = await api.createInvoiceLink('Premium', '30 days', payload, '', 'XTR', STARS.prices, {
    subscription_period: MONTH,
  });
  const result = await payAnswering({ user, invoice_link: link }, { ok: true });
  if (!result.ok) throw new Error('the subscription payment failed');
  return result;
}

beforeAll(async () => {
  emu = await createBotApiEmulator();
  api = new Api(emu.token, { apiRoot: emu.url });
});
afterAll(async () => {
  await emu.close();
});
afterEach(async () => {
  await emu.client.reset();
});

describe('pre-checkout queries', () => {
  it('accepts one answer per query, records its latency and refuses a second one', async () => {
    const update = await emu.client.injectPreCheckoutQuery({
      user: ANN,
      invoice_payload: 'p',
      total_amount: 5,
    });
    const id = update.pre_checkout_query!.id;
    expect(await api.answerPreCheckoutQuery(id, true)).toBe(true);
    expect(await apiError(api.answerPreCheckoutQuery(id, true))).toEqual({
      error_code: 400,
      description: QUERY_INVALID,
    });
    const answers = await emu.client.preCheckoutAnswers(ANN.id);
    expect(answers).toMatchObject([
      { pre_checkout_query_id: id, user_id: ANN.id, ok: true, accepted: true },
      { pre_checkout_query_id: id, accepted: false, rejected: 'already_answered' },
    ]);
    expect(answers[0]!.latency_ms).toBeGreaterThanOrEqual(0);
    expect(await apiError(api.answerPreCheckoutQuery('12345', true))).toMatchObject({ error_code: 400 });
  });

  it('needs error_message to decline, like the Bot API server', async () => {
    const update = await emu.client.injectPreCheckoutQuery({
      user: ANN,
      invoice_payload: 'p',
      total_amount: 5,
    });
    const id = update.pre_checkout_query!.id;
    expect(await apiError(api.answerPreCheckoutQuery(id, false))).toEqual({
      error_code: 400,
      description: 'Bad Request: parameter "error_message" is required',
    });
    await api.answerPreCheckoutQuery(id, false, { error_message: 'Sold out' });
    expect(await emu.client.preCheckoutAnswers()).toMatchObject([
      { ok: false, error_message: 'Sold out', accepted: true },
    ]);
  });

  it('takes no payment when the bot does not answer in time, and refuses the late answer', async () => {
    await emu.client.configure({ preCheckoutTimeoutMs: 300 });
    await api.sendInvoice(ANN.id, 'Pack', '20 images', 'pack:20', 'XTR', [{ label: 'Pack', amount: 99 }]);
    const [invoice] = await emu.client.invoices(ANN.id);
    const result = await emu.client.checkout({ user: ANN, message_id: invoice!.message_id! });
    expect(result).toMatchObject({ ok: false, reason: 'timeout' });

    const query = await nextUpdate((u) => u.pre_checkout_query);
    expect(query.id).toBe(result.pre_checkout_query_id);
    expect(await apiError(api.answerPreCheckoutQuery(query.id, true))).toEqual({
      error_code: 400,
      description: QUERY_INVALID,
    });
    const [late] = await emu.client.preCheckoutAnswers();
    expect(late).toMatchObject({ accepted: false, rejected: 'late' });
    expect(late!.latency_ms).toBeGreaterThanOrEqual(300);
    expect(await emu.client.payments()).toEqual([]);
    expect((await emu.client.config()).preCheckoutTimeoutMs).toBe(300);
    await expect(emu.client.configure({ preCheckoutTimeoutMs: 0 })).rejects.toMatchObject({ status: 400 });
  });
});

describe('checkout and successful_payment', () => {
  it('pays an invoice message only after the bot accepts, with Telegram-like charge ids', async () => {
    const sent = await api.sendInvoice(ANN.id, 'Pack', '20 images', 'pack:20', 'XTR', [
      { label: 'Pack', amount: 99 },
    ]);
    const result = await payAnswering({ user: ANN, message_id: sent.message_id }, { ok: true });
    expect(result.ok).toBe(true);

    const payment = await nextUpdate((u) => u.message?.successful_payment);
    expect(payment).toEqual({
      currency: 'XTR',
      total_amount: 99,
      invoice_payload: 'pack:20',
      telegram_payment_charge_id: expect.stringMatching(/^stx[A-Za-z0-9]{96}$/),
      provider_payment_charge_id: expect.stringMatching(new RegExp(`^${ANN.id}_\\d+$`)),
    });
    expect(await emu.client.payments(ANN.id)).toMatchObject([
      { telegram_payment_charge_id: payment.telegram_payment_charge_id, refunded: false },
    ]);

    // A second purchase is a new charge with a new id.
    await payAnswering({ user: ANN, message_id: sent.message_id }, { ok: true });
    const second = await nextUpdate((u) => u.message?.successful_payment);
    expect(second.telegram_payment_charge_id).not.toBe(payment.telegram_payment_charge_id);
  });

  it('passes the bot refusal text back and charges nothing', async () => {
    const sent = await api.sendInvoice(ANN.id, 'Pack', '20 images', 'pack:20', 'XTR', [
      { label: 'Pack', amount: 99 },
    ]);
    const result = await payAnswering(
      { user: ANN, message_id: sent.message_id },
      { ok: false, error_message: 'This order has expired' },
    );
    expect(result).toMatchObject({ ok: false, reason: 'declined', error_message: 'This order has expired' });
    expect(await emu.client.payments()).toEqual([]);
    await expect(emu.client.checkout({ user: ANN, message_id: 999 })).rejects.toMatchObject({ status: 404 });
  });

  it('starts a Star subscription from a subscription invoice link', async () => {
    const before = Math.floor(Date.now() / 1000);
    const { payment } = await paySubscription();
    const paid = await nextUpdate((u) => u.message?.successful_payment);
    expect(paid).toMatchObject({
      invoice_payload: 'sub:premium',
      total_amount: 250,
      is_recurring: true,
      is_first_recurring: true,
    });
    expect(paid.subscription_expiration_date).toBeGreaterThanOrEqual(before + MONTH);
    expect(paid.subscription_expiration_date).toBeLessThanOrEqual(Math.floor(Date.now() / 1000) + MONTH);
    expect(await emu.client.subscriptions(ANN.id)).toMatchObject([
      {
        id: payment.telegram_payment_charge_id,
        period: MONTH,
        expiration_date: paid.subscription_expiration_date,
        is_canceled: false,
      },
    ]);
  });
});

describe('invoice rules', () => {
  it('enforces the Stars and subscription rules of createInvoiceLink and sendInvoice', async () => {
    const link = (amount: number, other: Record<string, unknown> = {}) =>
      api.createInvoiceLink('Sub', 'Monthly', 'sub', '', 'XTR', [{ label: 'Sub', amount }], other);
    expect(await link(10_000, { subscription_period: MONTH })).toMatch(/^https:\/\/t\.me\/\$/);
    expect((await apiError(link(10_001, { subscription_period: MONTH }))).description).toBe(
      'Bad Request: CURRENCY_TOTAL_AMOUNT_INVALID',
    );
    expect((await apiError(link(100, { subscription_period: 86_400 }))).description).toBe(
      'Bad Request: SUBSCRIPTION_PERIOD_INVALID',
    );
    expect(
      (
        await apiError(
          api.createInvoiceLink('x', 'y', 'z', 'provider-token', 'XTR', [{ label: 'a', amount: 1 }]),
        )
      ).description,
    ).toBe('Bad Request: PROVIDER_TOKEN_INVALID');
    expect(
      (
        await apiError(
          api.createInvoiceLink('x', 'y', 'z', '', 'XTR', [
            { label: 'a', amount: 1 },
            { label: 'b', amount: 1 },
          ]),
        )
      ).description,
    ).toBe('Bad Request: STARS_INVOICE_INVALID');
    const direct = api.sendInvoice(ANN.id, 'Sub', 'Monthly', 'sub', 'XTR', [{ label: 'Sub', amount: 5 }], {
      subscription_period: MONTH,
    } as Record<string, unknown>);
    expect((await apiError(direct)).description).toBe('Bad Request: SUBSCRIPTION_EXPORT_MISSING');
  });
});

describe('refunds', () => {
  async function charge(user = ANN, payload = 'pack:20', amount = 99): Promise<string> {
    const update = await emu.client.injectSuccessfulPayment({
      user,
      invoice_payload: payload,
      total_amount: amount,
    });
    return update.message!.successful_payment!.telegram_payment_charge_id;
  }

  it('refunds once, then sends the refunded_payment service message as an update', async () => {
    const chargeId = await charge();
    await nextUpdate((u) => u.message?.successful_payment);
    expect((await apiError(api.refundStarPayment(ANN.id, 'stxUnknown'))).description).toBe(
      'Bad Request: CHARGE_NOT_FOUND',
    );
    expect((await apiError(api.refundStarPayment(BEN.id, chargeId))).description).toBe(
      'Bad Request: CHARGE_NOT_FOUND',
    );
    expect(await api.refundStarPayment(ANN.id, chargeId)).toBe(true);
    expect(await apiError(api.refundStarPayment(ANN.id, chargeId))).toEqual({
      error_code: 400,
      description: 'Bad Request: CHARGE_ALREADY_REFUNDED',
    });

    const message = await nextUpdate((u) => (u.message?.refunded_payment ? u.message : undefined));
    expect(message.chat).toMatchObject({ id: ANN.id, type: 'private' });
    expect(message.from).toMatchObject({ id: emu.botUser.id, is_bot: true });
    const payment = (await emu.client.payments(ANN.id))[0]!;
    expect(message.refunded_payment).toEqual({
      currency: 'XTR',
      total_amount: 99,
      invoice_payload: 'pack:20',
      telegram_payment_charge_id: chargeId,
      provider_payment_charge_id: payment.provider_payment_charge_id,
    });
    expect(payment).toMatchObject({ refunded: true });
    expect(await emu.client.refunds(ANN.id)).toMatchObject([
      { telegram_payment_charge_id: chargeId, total_amount: 99, update_id: expect.any(Number) },
    ]);
    expect((await emu.client.conversation(ANN.id)).messages.at(-1)).toMatchObject({
      outgoing: true,
      refunded_payment: { telegram_payment_charge_id: chargeId },
    });
    expect(await emu.client.stats()).toMatchObject({ messages_sent: 0 });
  });

  it('applies a refund whose answer is lost (5xx) and tells a retry it is already refunded', async () => {
    const chargeId = await charge();
    await emu.client.injectFault({ method: 'refundStarPayment', errorCode: 502, applied: true });
    expect((await apiError(api.refundStarPayment(ANN.id, chargeId))).error_code).toBe(502);
    expect(await emu.client.refunds()).toHaveLength(1);
    await nextUpdate((u) => u.message?.refunded_payment);
    expect((await apiError(api.refundStarPayment(ANN.id, chargeId))).description).toBe(
      'Bad Request: CHARGE_ALREADY_REFUNDED',
    );
    const [faulted] = await emu.client.calls({ method: 'refundStarPayment' });
    expect(faulted).toMatchObject({ ok: false, error_code: 502, fault: { applied: true } });
  });

  it('does nothing for a refund that fails before it applies, so a retry succeeds', async () => {
    const chargeId = await charge();
    await emu.client.injectFault({ method: 'refundStarPayment', errorCode: 500 });
    expect((await apiError(api.refundStarPayment(ANN.id, chargeId))).error_code).toBe(500);
    expect(await emu.client.refunds()).toEqual([]);
    expect(await api.refundStarPayment(ANN.id, chargeId)).toBe(true);
  });

  it('lets a refund time out on the client, applied or not', async () => {
    const impatient = new Api(emu.token, { apiRoot: emu.url, timeoutSeconds: 1 });
    const lost = await charge(ANN, 'a');
    const never = await charge(BEN, 'b');
    await emu.client.injectFault({ method: 'refundStarPayment', delayMs: 60_000, applied: true });
    await expect(impatient.refundStarPayment(ANN.id, lost)).rejects.toBeInstanceOf(HttpError);
    await emu.client.injectFault({ method: 'refundStarPayment', delayMs: 60_000, errorCode: 504 });
    await expect(impatient.refundStarPayment(BEN.id, never)).rejects.toBeInstanceOf(HttpError);
    expect((await emu.client.refunds()).map((r) => r.telegram_payment_charge_id)).toEqual([lost]);
  });
});

describe('Star transactions and balance', () => {
  it('lists payments and refunds newest first with offset and limit, and keeps the balance', async () => {
    const ids: string[] = [];
    for (const amount of [10, 20, 30]) {
      const u = await emu.client.injectSuccessfulPayment({
        user: ANN,
        invoice_payload: `p${amount}`,
        total_amount: amount,
      });
      ids.push(u.message!.successful_payment!.telegram_payment_charge_id);
    }
    await emu.client.injectSuccessfulPayment({
      user: BEN,
      invoice_payload: 'eur',
      total_amount: 500,
      currency: 'EUR',
    });
    await api.refundStarPayment(ANN.id, ids[0]!);

    const { transactions } = await api.getStarTransactions();
    // Chronological, as the Bot API documents it.
    expect(transactions.map((t) => [t.id, t.amount, t.source ? 'in' : 'out'])).toEqual([
      [ids[0], 10, 'in'],
      [ids[1], 20, 'in'],
      [ids[2], 30, 'in'],
      [ids[0], 10, 'out'],
    ]);
    expect(transactions[3]!.receiver).toMatchObject({
      type: 'user',
      transaction_type: 'invoice_payment',
      user: { id: ANN.id },
      invoice_payload: 'p10',
    });
    expect(transactions[2]!.source).toMatchObject({
      type: 'user',
      user: { id: ANN.id },
      invoice_payload: 'p30',
    });
    expect(
      (await api.getStarTransactions({ offset: 1, limit: 2 })).transactions.map((t) => t.amount),
    ).toEqual([20, 30]);
    // The Bot API server clamps rather than refuses.
    expect((await api.getStarTransactions({ limit: 500 })).transactions).toHaveLength(4);
    expect((await api.getStarTransactions({ limit: 0 })).transactions).toHaveLength(1);
    expect(await api.getMyStarBalance()).toEqual({ amount: 50 });
  });
});

describe('Star subscriptions', () => {
  it('renews until the bot cancels, and again after it re-enables', async () => {
    const { payment } = await paySubscription();
    const first = await nextUpdate((u) => u.message?.successful_payment);
    const subId = payment.telegram_payment_charge_id;

    const renewal = (await emu.client.renewSubscription(subId)).message!.successful_payment!;
    expect(renewal).toMatchObject({ invoice_payload: 'sub:premium', total_amount: 250, is_recurring: true });
    expect(renewal.is_first_recurring).toBeUndefined();
    expect(renewal.telegram_payment_charge_id).not.toBe(subId);
    expect(renewal.subscription_expiration_date).toBe(first.subscription_expiration_date! + MONTH);

    // editUserStarSubscription takes the first payment's id only.
    expect(
      (await apiError(api.editUserStarSubscription(ANN.id, renewal.telegram_payment_charge_id, true)))
        .description,
    ).toBe('Bad Request: CHARGE_ID_INVALID');
    expect((await apiError(api.editUserStarSubscription(BEN.id, subId, true))).description).toBe(
      'Bad Request: CHARGE_ID_INVALID',
    );
    expect(await api.editUserStarSubscription(ANN.id, subId, true)).toBe(true);
    expect(await emu.client.subscriptions()).toMatchObject([{ id: subId, is_canceled: true }]);
    const refused = await emu.client
      .renewSubscription(renewal.telegram_payment_charge_id)
      .catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(EmulatorClientError);
    expect((refused as EmulatorClientError).status).toBe(409);
    expect(await emu.client.payments(ANN.id)).toHaveLength(2);

    await api.editUserStarSubscription(ANN.id, subId, false);
    const third = (await emu.client.renewSubscription(subId)).message!.successful_payment!;
    expect(third.subscription_expiration_date).toBe(first.subscription_expiration_date! + 2 * MONTH);
    expect((await emu.client.subscriptions())[0]!.charge_ids).toHaveLength(3);
    const { transactions } = await api.getStarTransactions();
    expect(transactions[0]!.source).toMatchObject({ subscription_period: MONTH });
  });
});

describe('re-delivery and duplicates', () => {
  it('re-sends an update with its id, and a charge again in a new update', async () => {
    const orphan = await emu.client.injectSuccessfulPayment({
      user: ANN,
      invoice_payload: 'no-such-order',
      total_amount: 42,
    });
    const chargeId = orphan.message!.successful_payment!.telegram_payment_charge_id;
    expect(await nextUpdate((u) => u)).toEqual(orphan);

    expect(await emu.client.redeliverUpdate(orphan.update_id)).toEqual(orphan);
    expect(await nextUpdate((u) => u)).toEqual(orphan);

    const duplicate = await emu.client.duplicateSuccessfulPayment(chargeId);
    expect(duplicate.update_id).toBeGreaterThan(orphan.update_id);
    expect(duplicate.message!.message_id).not.toBe(orphan.message!.message_id);
    expect(duplicate.message!.successful_payment).toEqual(orphan.message!.successful_payment);
    expect(await nextUpdate((u) => u)).toEqual(duplicate);

    // Injecting a known charge id is the same: one charge, delivered in two updates.
    const again = await emu.client.injectSuccessfulPayment({
      user: ANN,
      invoice_payload: 'no-such-order',
      total_amount: 42,
      telegram_payment_charge_id: chargeId,
    });
    const [payment] = await emu.client.payments();
    expect(payment!.update_ids).toEqual([orphan.update_id, duplicate.update_id, again.update_id]);
    await expect(
      emu.client.injectSuccessfulPayment({
        user: BEN,
        invoice_payload: 'x',
        total_amount: 1,
        telegram_payment_charge_id: chargeId,
      }),
    ).rejects.toMatchObject({ status: 400 });
    await expect(emu.client.redeliverUpdate(1)).rejects.toMatchObject({ status: 404 });
    await expect(emu.client.duplicateSuccessfulPayment('stxNope')).rejects.toMatchObject({ status: 404 });
  });
});

describe('update ids across restarts', () => {
  it('starts a new emulator above every id the previous one handed out', async () => {
    const first = await createBotApiEmulator();
    const firstIds: number[] = [];
    try {
      for (let i = 0; i < 50; i++)
        firstIds.push((await first.client.injectMessage({ user: ANN, text: `m${i}` })).update_id);
    } finally {
      await first.close();
    }
    const second = await createBotApiEmulator();
    try {
      const secondIds: number[] = [];
      for (let i = 0; i < 5; i++)
        secondIds.push((await second.client.injectMessage({ user: ANN, text: `n${i}` })).update_id);
      expect(Math.min(...secondIds)).toBeGreaterThan(Math.max(...firstIds));
      expect(secondIds.every((id) => Number.isSafeInteger(id))).toBe(true);
    } finally {
      await second.close();
    }
  });
});
