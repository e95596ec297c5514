import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type BotApiEmulator, createBotApiEmulator } from '../../src/dev/bot-api-emulator/index.js';
import { RefundOutcomeUnknownError } from '../../src/domain/payments/refunds.js';
import { createTestApp, type TestApp } from '../helpers/app.js';
import { silentLogger } from '../helpers/db.js';

/**
 * The payments.refund job against the Bot API emulator over HTTP, with no bot receiving updates:
 * Telegram's refunded_payment messages stay undelivered, so what the job finds out, it finds out
 * by its own calls (refundStarPayment, getStarTransactions). Each attempt is run the way the job
 * runs it, one after the other.
 */
describe('payments.refund job', () => {
  let emu: BotApiEmulator;
  let t: TestApp;
  let nextUser = 47_000;
  beforeAll(async () => {
    emu = await createBotApiEmulator({ logger: silentLogger });
    t = await createTestApp(
      { BOT_TOKEN: emu.token, TELEGRAM_API_ROOT: emu.url, PAYMENTS_REFUND_TIMEOUT_MS: '500' },
      { label: 'refund_job' },
    );
  });
  afterAll(async () => {
    await t?.close();
    await emu?.close();
  });

  /** A user who bought `pro_7d`: charged at Telegram (the emulator's ledger) and credited here. */
  async function bought() {
    const id = ++nextUser;
    const user = { id, first_name: `R${id}`, language_code: 'en' };
    await t.app.users.register(user);
    const invoice = await t.app.payments.createOrder(id, 'pro_7d', 'en');
    const update = await emu.client.injectSuccessfulPayment({
      user,
      invoice_payload: invoice.payload,
      total_amount: invoice.price,
    });
    const sp = update.message!.successful_payment!;
    const credited = await t.app.payments.credit({
      userId: id,
      chargeId: sp.telegram_payment_charge_id,
      providerChargeId: sp.provider_payment_charge_id,
      payload: sp.invoice_payload,
      currency: sp.currency,
      amount: sp.total_amount,
      subscriptionExpiresAt: undefined,
      isRecurring: false,
      isFirstRecurring: false,
      raw: update,
    });
    expect(credited.outcome).toBe('credited');
    expect((await t.app.subscriptions.get(id)).plan).toBe('pro');
    return { id, payment: credited.payment };
  }
  const run = (paymentId: number, isLastAttempt = false) =>
    t.app.payments.runRefund(paymentId, { isLastAttempt });
  const row = (paymentId: number) =>
    t.app.db.selectFrom('payments').selectAll().where('id', '=', paymentId).executeTakeFirstOrThrow();
  /** refundStarPayment calls for a charge, once at least `min` are recorded (a delayed one is recorded when it answers). */
  const refundCalls = (chargeId: string, min: number) =>
    emu.client.waitFor(async () => {
      const n = (await emu.client.calls({ method: 'refundStarPayment' })).filter(
        (c) => (c.params as { telegram_payment_charge_id?: string }).telegram_payment_charge_id === chargeId,
      ).length;
      return n >= min ? n : undefined;
    }, `${min} refundStarPayment call(s)`);

  it('a refund that times out (but happened) is reconciled, never sent twice', async () => {
    const { id, payment } = await bought();
    await t.app.payments.requestRefund(payment.id, 'admin');
    await emu.client.injectFault({ method: 'refundStarPayment', delayMs: 1_500, applied: true });
    await expect(run(payment.id)).rejects.toBeInstanceOf(RefundOutcomeUnknownError);
    expect(await row(payment.id)).toMatchObject({ status: 'refund_pending', refund_attempts: 1 });
    expect((await t.app.subscriptions.get(id)).plan).toBe('pro');

    // The retry asks Telegram's transaction list first: the refund is there.
    expect(await run(payment.id)).toEqual({ outcome: 'reconciled' });
    expect(await row(payment.id)).toMatchObject({ status: 'refunded', refund_attempts: 1 });
    expect(await t.app.subscriptions.get(id)).toMatchObject({ plan: 'free', expires_at: null });
    expect(await refundCalls(payment.telegram_payment_charge_id, 1)).toBe(1);
    expect(await emu.client.refunds(id)).toHaveLength(1);
    // Run again (a duplicate job): nothing happens.
    expect(await run(payment.id)).toEqual({ skipped: 'payment is refunded' });
    expect(await refundCalls(payment.telegram_payment_charge_id, 1)).toBe(1);
  });

  it('a refund that timed out without happening is asked again after reconciling', async () => {
    const { id, payment } = await bought();
    await t.app.payments.requestRefund(payment.id, 'admin');
    await emu.client.injectFault({ method: 'refundStarPayment', delayMs: 1_500 });
    await expect(run(payment.id)).rejects.toBeInstanceOf(RefundOutcomeUnknownError);
    expect(await emu.client.refunds(id)).toHaveLength(0);
    expect(await run(payment.id)).toEqual({ outcome: 'refunded' });
    expect(await refundCalls(payment.telegram_payment_charge_id, 2)).toBe(2);
    expect(await emu.client.refunds(id)).toHaveLength(1);
    expect((await t.app.subscriptions.get(id)).plan).toBe('free');
  });

  it('CHARGE_ALREADY_REFUNDED is the same refund: reverted once', async () => {
    const { id, payment } = await bought();
    await t.app.telegramDirect!.refundStarPayment(id, payment.telegram_payment_charge_id);
    await t.app.payments.requestRefund(payment.id, 'admin');
    expect(await run(payment.id)).toEqual({ outcome: 'already_refunded' });
    expect(await t.app.subscriptions.get(id)).toMatchObject({ plan: 'free', expires_at: null });
    // Telegram's own message about it, had it been delivered, changes nothing more.
    expect(await t.app.payments.refundedByTelegram(payment.telegram_payment_charge_id)).toBe(false);
  });

  it('a refund Telegram refuses for good fails; the admin may ask again, which reconciles first', async () => {
    const { id, payment } = await bought();
    // Telegram never saw this charge (the emulator answers CHARGE_NOT_FOUND).
    await t.app.db
      .updateTable('payments')
      .set({ telegram_payment_charge_id: 'stx-unknown' })
      .where('id', '=', payment.id)
      .execute();
    await t.app.payments.requestRefund(payment.id, 'admin');
    expect(await run(payment.id)).toEqual({ outcome: 'rejected' });
    expect(await row(payment.id)).toMatchObject({
      status: 'refund_failed',
      refund_error: expect.stringContaining('CHARGE_NOT_FOUND'),
    });
    expect((await t.app.subscriptions.get(id)).plan).toBe('pro');
    await t.app.payments.requestRefund(payment.id, 'admin');
    const calls = (await emu.client.calls({ method: 'getStarTransactions' })).length;
    expect(await run(payment.id)).toEqual({ outcome: 'rejected' });
    expect((await emu.client.calls({ method: 'getStarTransactions' })).length).toBeGreaterThan(calls);
  });

  it('no answer on the last attempt leaves it for the admin as failed', async () => {
    const { payment } = await bought();
    await t.app.payments.requestRefund(payment.id, 'admin');
    await emu.client.injectFault({ method: 'refundStarPayment', errorCode: 502 });
    expect(await run(payment.id, true)).toEqual({ outcome: 'failed' });
    expect(await row(payment.id)).toMatchObject({
      status: 'refund_failed',
      refund_error: expect.stringContaining('no answer'),
    });
  });
});
