import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { botSays, orderInvoice, pay, paymentRows, tgUser, waitForPayments } from '../helpers/payments.js';
import { startSystem, type TestSystem } from '../helpers/system.js';

const DAY = 86_400_000;

/**
 * Buying through the real bot and the Bot API emulator's Stars checkout (pre-checkout, charge,
 * successful_payment), in both update modes.
 */
for (const mode of ['polling', 'webhook'] as const) {
  describe(`payments (${mode})`, () => {
    let s: TestSystem;
    const id = (n: number) => (mode === 'polling' ? 41_000 : 42_000) + n;
    beforeAll(async () => {
      s = await startSystem({ mode, label: `payments_${mode}` });
    });
    afterAll(async () => s?.close());

    it('a purchase end to end: /buy, invoice, pre-checkout, payment, the plan, a confirmation', async () => {
      const user = tgUser(id(1));
      const invoice = await orderInvoice(s, user, 'pro_30d');
      expect(invoice).toMatchObject({
        kind: 'message',
        currency: 'XTR',
        total_amount: 649,
        title: 'Pro · 30 days',
        prices: [{ label: 'Pro · 30 days', amount: 649 }],
      });
      const paid = await pay(s, user, invoice);
      expect(paid.ok).toBe(true);
      const thanks = await botSays(s, user.id, 'Thank you!');
      expect(thanks.text).toContain('Pro · 30 days');
      const sub = await s.app.subscriptions.get(user.id);
      expect(sub.plan).toBe('pro');
      expect(sub.expires_at!.getTime()).toBeGreaterThan(Date.now() + 30 * DAY - 120_000);
      const [row] = await paymentRows(s, user.id);
      expect(row).toMatchObject({ status: 'credited', amount: 649, product_code: 'pro_30d' });
      if (!paid.ok) throw new Error('unreachable');
      expect(row!.telegram_payment_charge_id).toBe(paid.payment.telegram_payment_charge_id);
      const answers = await s.tg.preCheckoutAnswers(user.id);
      expect(answers).toMatchObject([{ ok: true, accepted: true }]);

      await s.tg.injectMessage({ user, text: '/status' });
      const status = await botSays(s, user.id, 'Your plan: Pro');
      expect(status.text).toContain('Purchased images: 0');
    });

    it('the same successful_payment twice and the same charge in a new update credit once', async () => {
      const user = tgUser(id(2));
      const paid = await pay(s, user, await orderInvoice(s, user, 'pro_7d'));
      if (!paid.ok) throw new Error(`checkout failed: ${paid.reason}`);
      await botSays(s, user.id, 'Thank you!');
      const end = (await s.app.subscriptions.get(user.id)).expires_at!.getTime();

      await s.tg.redeliverUpdate(paid.update.update_id);
      await s.tg.redeliverUpdate(paid.update.update_id);
      await s.tg.duplicateSuccessfulPayment(paid.payment.telegram_payment_charge_id);
      await s.tg.duplicateSuccessfulPayment(paid.payment.telegram_payment_charge_id);
      await s.tg.waitForDelivery();
      // Each of those updates was handled (counted) and changed nothing.
      await s.tg.waitFor(async () => {
        const text = await (await fetch(`${s.url}/metrics`)).text();
        const m = /vitte_payments_total\{product="pro_7d",outcome="duplicate"\} (\d+)/.exec(text);
        return m && Number(m[1]) >= 4 ? true : undefined;
      }, 'four duplicates counted');
      expect(await paymentRows(s, user.id)).toHaveLength(1);
      expect((await s.app.subscriptions.get(user.id)).expires_at!.getTime()).toBe(end);
      const thanks = (await s.tg.botMessages(user.id)).filter((m) => m.text?.includes('Thank you!'));
      expect(thanks).toHaveLength(1);
    });

    it('refuses a tampered amount, an expired order, another user’s order and a banned user', async () => {
      const [ann, bob] = [tgUser(id(3)), tgUser(id(4), 'ru')];
      const invoice = await orderInvoice(s, ann, 'pack_50');
      const answer = async (user: typeof ann, amount: number) => {
        const before = (await s.tg.preCheckoutAnswers(user.id)).length;
        await s.tg.injectPreCheckoutQuery({ user, invoice_payload: invoice.payload, total_amount: amount });
        return s.tg.waitFor(async () => (await s.tg.preCheckoutAnswers(user.id))[before], 'an answer');
      };
      expect(await answer(ann, 1)).toMatchObject({
        ok: false,
        accepted: true,
        error_message: 'The amount does not match this invoice. Open /buy for a new one.',
      });
      // Someone else pressing Pay on a forwarded invoice, answered in their language.
      expect(await answer(bob, 219)).toMatchObject({
        ok: false,
        error_message: 'Этот счёт выставлен другому человеку. Открой /buy, чтобы получить свой.',
      });
      await s.app.users.ban(ann.id, 'test');
      expect((await answer(ann, 219)).error_message).toBe(
        'Your access to this bot has been suspended, so it cannot take payments from you.',
      );
      await s.app.users.unban(ann.id);
      await s.app.db
        .updateTable('orders')
        .set({ expires_at: new Date(Date.now() - 1_000) })
        .where('reference', '=', invoice.payload)
        .execute();
      const expired = await pay(s, ann, invoice);
      expect(expired).toMatchObject({
        ok: false,
        reason: 'declined',
        error_message: 'This invoice has expired. Open /buy for a new one.',
      });
      expect(await s.tg.payments(ann.id)).toEqual([]);
      expect(await paymentRows(s, ann.id)).toEqual([]);
    });

    it('a Star subscription: first payment, renewal, cancellation, resumption, expiry', async () => {
      const user = tgUser(id(5));
      const invoice = await orderInvoice(s, user, 'pro_monthly');
      expect(invoice).toMatchObject({ kind: 'link', subscription_period: 2_592_000, total_amount: 599 });
      const linkMessage = await s.tg.waitForBotMessage(user.id, (m) =>
        Boolean(m.text?.includes('every 30 days')),
      );
      const button = linkMessage.reply_markup!.inline_keyboard.flat()[0]!;
      expect('url' in button && button.url).toBe(invoice.link);
      const first = await pay(s, user, invoice);
      if (!first.ok) throw new Error(`checkout failed: ${first.reason}`);
      await botSays(s, user.id, 'Thank you!');
      const periodEnd = first.payment.subscription_expiration_date! * 1000;
      expect((await s.app.subscriptions.get(user.id)).expires_at!.getTime()).toBe(periodEnd + 3_600_000);

      await s.tg.renewSubscription(first.payment.telegram_payment_charge_id);
      await botSays(s, user.id, 'was renewed');
      expect((await s.app.subscriptions.get(user.id)).expires_at!.getTime()).toBe(
        periodEnd + 30 * DAY + 3_600_000,
      );

      // Cancel renewal from /status: Telegram is told, access stays to the period's end.
      await s.tg.injectMessage({ user, text: '/status' });
      const status = await botSays(s, user.id, 'Subscription: renews');
      const cancel = status
        .reply_markup!.inline_keyboard.flat()
        .find((b) => 'callback_data' in b && b.callback_data === 'sub:cancel');
      expect(cancel).toBeDefined();
      // Pressed twice (a double tap): Telegram is asked once.
      await s.tg.injectCallbackQuery({ user, message_id: status.message_id, data: 'sub:cancel' });
      await s.tg.injectCallbackQuery({ user, message_id: status.message_id, data: 'sub:cancel' });
      await s.tg.waitFor(
        async () =>
          (await s.tg.botMessages(user.id)).filter((m) => m.text?.includes('Renewal cancelled')).length === 2
            ? true
            : undefined,
        'both answers',
      );
      expect(await s.tg.calls({ method: 'editUserStarSubscription' })).toHaveLength(1);
      const [ledger] = await s.tg.subscriptions(user.id);
      expect(ledger!.is_canceled).toBe(true);
      expect((await s.app.payments.starSubscription(user.id))!.renewal_canceled_at).not.toBeNull();
      expect((await s.app.subscriptions.get(user.id)).plan).toBe('pro');
      await expect(s.tg.renewSubscription(first.payment.telegram_payment_charge_id)).rejects.toThrow(
        /cancelled/,
      );

      await s.tg.injectCallbackQuery({ user, message_id: status.message_id, data: 'sub:resume' });
      await botSays(s, user.id, 'Renewal is on again');
      expect((await s.tg.subscriptions(user.id))[0]!.is_canceled).toBe(false);
      expect(await s.tg.calls({ method: 'editUserStarSubscription' })).toHaveLength(2);

      // No renewal arrives: the expiry job downgrades and tells the user.
      await s.app.db
        .updateTable('subscriptions')
        .set({ expires_at: new Date(Date.now() - 1_000) })
        .where('user_id', '=', user.id)
        .execute();
      await s.app.queue.enqueueAndWait('subscriptions.expire', {}, { timeoutMs: 10_000 });
      await botSays(s, user.id, 'plan has ended');
      expect((await s.app.subscriptions.get(user.id)).plan).toBe('free');
      expect(await paymentRows(s, user.id)).toMatchObject([
        { status: 'credited', is_first_recurring: true },
        { status: 'credited', is_recurring: true, is_first_recurring: false },
      ]);
    });

    it('an orphan payment is kept, the user told, and refunded automatically once', async () => {
      const user = tgUser(id(6));
      await s.tg.injectMessage({ user, text: '/start' });
      await s.tg.waitForBotMessage(user.id);
      const update = await s.tg.injectSuccessfulPayment({
        user,
        invoice_payload: 'premium-30d',
        total_amount: 250,
      });
      const chargeId = update.message!.successful_payment!.telegram_payment_charge_id;
      const [row] = await waitForPayments(
        s,
        user.id,
        (r) => r[0]?.status === 'refunded',
        'the orphan refunded',
      );
      expect(row).toMatchObject({
        orphan_reason: 'unknown_order',
        refund_source: 'auto',
        amount: 250,
        invoice_payload: 'premium-30d',
        grant: null,
      });
      expect((row!.raw_update as { update_id: number }).update_id).toBe(update.update_id);
      await botSays(s, user.id, 'It is being refunded');
      await botSays(s, user.id, 'was refunded');
      // Telegram refunded once; its refunded_payment message (after our call) changed nothing more.
      expect(await s.tg.refunds(user.id)).toHaveLength(1);
      expect((await s.tg.payments(user.id))[0]).toMatchObject({
        telegram_payment_charge_id: chargeId,
        refunded: true,
      });
      expect((await s.app.subscriptions.get(user.id)).plan).toBe('free');
    });
  });
}
