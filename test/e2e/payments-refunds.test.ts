import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  ADMIN_ENV,
  adminSession,
  botSays,
  orderInvoice,
  pay,
  paymentRows,
  tgUser,
  waitForPayments,
} from '../helpers/payments.js';
import { startSystem, type TestSystem } from '../helpers/system.js';

/**
 * Refunds through the whole system: the admin's JSON API, the payments.refund job, the emulator's
 * refundStarPayment and its refunded_payment message, in whichever order they come.
 */
describe('payment refunds (polling)', () => {
  let s: TestSystem;
  let admin: Awaited<ReturnType<typeof adminSession>>;
  beforeAll(async () => {
    s = await startSystem({ label: 'payment_refunds', env: ADMIN_ENV });
    admin = await adminSession(s);
  });
  afterAll(async () => s?.close());

  const buy = async (userId: number, code: string) => {
    const user = tgUser(userId);
    const paid = await pay(s, user, await orderInvoice(s, user, code));
    if (!paid.ok) throw new Error(`checkout failed: ${paid.reason}`);
    await botSays(s, user.id, 'Thank you!');
    const [row] = await paymentRows(s, user.id);
    return { user, paid, row: row! };
  };
  const refundedMessages = async (userId: number) =>
    (await s.tg.botMessages(userId)).filter((m) => m.text?.includes('was refunded')).length;

  it('refund from the admin, then Telegram’s refunded_payment: one reversal, audited', async () => {
    const { user, row } = await buy(43_001, 'pro_30d');
    expect((await s.app.subscriptions.get(user.id)).plan).toBe('pro');

    const res = await admin.post(`/admin/api/payments/${row.id}/refund`);
    expect(res.status, res.text).toBe(200);
    expect(res.json.payment).toMatchObject({ status: 'refund_pending', refund_source: 'admin' });
    await waitForPayments(s, user.id, (r) => r[0]!.status === 'refunded', 'the refund');
    await botSays(s, user.id, 'was refunded');
    // Telegram's refunded_payment message came after our call and found it done.
    await s.tg.waitFor(
      async () =>
        (await s.tg.updates()).some((u) => u.update.message?.refunded_payment && u.delivered)
          ? true
          : undefined,
      'the refunded_payment update delivered',
    );
    await s.tg.waitForDelivery();
    expect(await s.app.subscriptions.get(user.id)).toMatchObject({ plan: 'free', expires_at: null });
    expect(await s.tg.refunds(user.id)).toHaveLength(1);
    expect(await refundedMessages(user.id)).toBe(1);

    const again = await admin.post(`/admin/api/payments/${row.id}/refund`);
    expect(again.status).toBe(409);
    const audit = await admin.get(
      `/admin/api/audit?action=payment.refund&targetType=payment&targetId=${row.id}`,
    );
    expect(audit.json.items).toMatchObject([
      { action: 'payment.refund', before: { status: 'credited' }, after: { status: 'refund_pending' } },
    ]);
    const detail = await admin.get(`/admin/api/payments/${row.id}`);
    expect(detail.json.payment).toMatchObject({ status: 'refunded', refund_attempts: 1 });
    expect(detail.json.order).toMatchObject({ product_code: 'pro_30d', status: 'paid' });
  });

  it('Telegram’s refunded_payment first (our call’s answer lost), then the job: one reversal', async () => {
    const { user, row } = await buy(43_002, 'pro_7d');
    await s.tg.injectFault({ method: 'refundStarPayment', errorCode: 502, applied: true });
    expect((await admin.post(`/admin/api/payments/${row.id}/refund`)).status).toBe(200);
    await waitForPayments(s, user.id, (r) => r[0]!.status === 'refunded', 'the refund');
    expect(await s.app.subscriptions.get(user.id)).toMatchObject({ plan: 'free', expires_at: null });
    // The job's retry finds the payment refunded and does nothing; Telegram refunded once.
    await s.tg.waitFor(
      async () => {
        const text = await (await fetch(`${s.url}/metrics`)).text();
        return /vitte_jobs_completed_total\{[^}]*job_name="payments.refund"[^}]*\} [1-9]/.test(text)
          ? true
          : undefined;
      },
      'the refund job to finish',
      { timeoutMs: 15_000 },
    );
    expect(await s.tg.refunds(user.id)).toHaveLength(1);
    expect(await refundedMessages(user.id)).toBe(1);
    const metrics = await (await fetch(`${s.url}/metrics`)).text();
    expect(metrics).toMatch(/vitte_payment_refunds_total\{outcome="telegram",source="admin"\} 1/);
    const [done] = await paymentRows(s, user.id);
    expect(done).toMatchObject({ status: 'refunded', refund_source: 'admin' });
  });

  it('a pack partly used, then refunded: what is left of it goes, never below zero', async () => {
    const { user, row } = await buy(43_003, 'pack_20');
    await s.app.db
      .updateTable('subscriptions')
      .set({ images_limit: 0 })
      .where('user_id', '=', user.id)
      .execute();
    for (let i = 0; i < 6; i++) expect((await s.app.imageCredits.take(user.id)).ok).toBe(true);
    expect(await s.app.imageCredits.purchasedLeft(user.id)).toBe(14);
    expect((await admin.post(`/admin/api/payments/${row.id}/refund`)).status).toBe(200);
    await waitForPayments(s, user.id, (r) => r[0]!.status === 'refunded', 'the refund');
    expect(await s.app.imageCredits.packs(user.id)).toMatchObject([{ images_total: 20, images_left: 0 }]);
    await s.tg.injectMessage({ user, text: '/status' });
    await botSays(s, user.id, 'Purchased images: 0');
    const page = await admin.get(`/admin/api/users/${user.id}`);
    expect(page.json.purchases).toMatchObject({ purchasedImagesLeft: 0, payments: [{ status: 'refunded' }] });
  });

  it('an orphan kept for the admin (manual policy) is refunded from the panel', async () => {
    expect((await admin.put('/admin/api/settings/payments.orphan_policy', { value: 'manual' })).status).toBe(
      200,
    );
    const user = tgUser(43_004);
    await s.tg.injectMessage({ user, text: '/start' });
    await s.tg.waitForBotMessage(user.id);
    await s.tg.injectSuccessfulPayment({ user, invoice_payload: 'from-another-bot', total_amount: 75 });
    const [orphan] = await waitForPayments(s, user.id, (r) => r[0]?.status === 'orphan', 'the orphan');
    await botSays(s, user.id, 'We will look into it');
    const list = await admin.get('/admin/api/payments?status=orphan');
    expect((list.json.items as { id: number }[]).map((p) => p.id)).toContain(orphan!.id);
    expect((await admin.post(`/admin/api/payments/${orphan!.id}/refund`)).status).toBe(200);
    await waitForPayments(s, user.id, (r) => r[0]!.status === 'refunded', 'the refund');
    expect(await s.tg.refunds(user.id)).toHaveLength(1);
    const stats = await admin.get('/admin/api/payments/stats');
    expect(stats.json).toMatchObject({ payingUsersTotal: expect.any(Number), open: {} });
  });
});
