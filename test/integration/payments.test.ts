import { randomBytes } from 'node:crypto';
import { sql } from 'kysely';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { DEFAULT_CATALOGUE, type Product } from '../../src/domain/payments/catalogue.js';
import type { IncomingPayment } from '../../src/domain/payments/payments.service.js';
import { createTestApp, type TestApp } from '../helpers/app.js';
import { has } from '../helpers/services.js';

const DAY = 86_400_000;

/** A successful_payment as the bot hands it to the service: a fresh charge unless `extra` names one. */
function incoming(
  userId: number,
  payload: string,
  amount: number,
  extra: Partial<IncomingPayment> = {},
): IncomingPayment {
  return {
    userId,
    chargeId: `stx${randomBytes(24).toString('hex')}`,
    providerChargeId: undefined,
    payload,
    currency: 'XTR',
    amount,
    subscriptionExpiresAt: undefined,
    isRecurring: false,
    isFirstRecurring: false,
    raw: { update_id: 1 },
    ...extra,
  };
}

/**
 * The payments domain on a real database, without Telegram: orders and their snapshot, the
 * pre-checkout verdict, crediting exactly once, orphans, plan and pack grants and their reversal,
 * Star subscriptions, image units. Refund jobs against Telegram are covered end to end
 * (test/e2e/payments*.test.ts) through the Bot API emulator.
 */
describe('payments domain', () => {
  let t: TestApp;
  let nextUser = 880_000_000;
  beforeAll(async () => {
    t = await createTestApp({}, { label: 'payments' });
  });
  afterAll(async () => t?.close());

  const newUser = async (lang = 'en') => {
    const id = ++nextUser;
    await t.app.users.register({ id, first_name: `P${id}`, language_code: lang });
    return id;
  };
  const pay = (userId: number, payload: string, amount: number, extra: Partial<IncomingPayment> = {}) =>
    t.app.payments.credit(incoming(userId, payload, amount, extra));
  const expireOrder = (orderId: number) =>
    t.app.db
      .updateTable('orders')
      .set({ expires_at: new Date(Date.now() - 1000) })
      .where('id', '=', orderId)
      .execute();
  const sub = (userId: number) => t.app.subscriptions.get(userId);
  const payments = (userId: number) =>
    t.app.db.selectFrom('payments').selectAll().where('user_id', '=', userId).orderBy('id').execute();
  const setCatalogue = (products: Product[]) => t.app.settings.set('payments.catalogue', products);

  describe('catalogue', () => {
    const valid = DEFAULT_CATALOGUE[0]!;
    const refused = (products: unknown) => {
      try {
        t.app.settings.validate('payments.catalogue', products);
      } catch (err) {
        return (err as { details: { issues: { path: string; message: string }[] } }).details.issues;
      }
      throw new Error('accepted');
    };

    it('accepts the defaults: 3 plans, 4 packs, 1 subscription at the original prices', () => {
      const c = t.app.settings.validate('payments.catalogue', DEFAULT_CATALOGUE);
      expect(c.map((p) => [p.code, p.price])).toEqual([
        ['pro_7d', 229],
        ['pro_30d', 649],
        ['pro_365d', 4990],
        ['pro_monthly', 599],
        ['pack_20', 99],
        ['pack_50', 219],
        ['pack_100', 399],
        ['pack_200', 699],
      ]);
    });

    it('refuses what Telegram would refuse, naming the field', () => {
      const sub = DEFAULT_CATALOGUE.find((p) => p.kind === 'subscription')!;
      expect(refused([{ ...sub, price: 10_001 }])).toEqual([
        { path: '0.price', message: expect.stringContaining('10000') },
      ]);
      expect(refused([{ ...valid, title: { en: '', ru: 'x' } }])[0]!.path).toBe('0.title.en');
      expect(refused([{ ...valid, title: { en: 'x'.repeat(33), ru: 'x' } }])[0]!.path).toBe('0.title.en');
      expect(refused([{ ...valid, description: { en: 'x', ru: 'y'.repeat(256) } }])[0]!.path).toBe(
        '0.description.ru',
      );
      expect(refused([{ ...valid, prices: [1, 2] }])[0]!.message).toMatch(/prices/);
      expect(refused([{ ...valid, price: 0 }])[0]!.path).toBe('0.price');
      expect(refused([{ ...valid, price: 9.5 }])[0]!.path).toBe('0.price');
      expect(refused([valid, { ...valid }])).toEqual([{ path: '1.code', message: 'the code is used twice' }]);
      expect(refused([{ ...valid, images: 5 }])).toEqual([
        { path: '0.images', message: 'not used by a plan' },
      ]);
      expect(refused([{ ...valid, plan: 'free' }])).toEqual([
        { path: '0.plan', message: 'the free plan cannot be sold' },
      ]);
      expect(
        refused([{ code: 'p', kind: 'pack', price: 5, title: valid.title, description: valid.description }]),
      ).toEqual([{ path: '0.images', message: 'is required' }]);
    });
  });

  describe('orders and pre-checkout', () => {
    it('snapshots the product in an opaque order and reuses it for a double tap', async () => {
      const user = await newUser('ru');
      const a = await t.app.payments.createOrder(user, 'pro_7d', 'ru');
      const b = await t.app.payments.createOrder(user, 'pro_7d', 'ru');
      expect(b.orderId).toBe(a.orderId);
      expect(a).toMatchObject({ title: 'Pro · 7 дней', price: 229, currency: 'XTR' });
      expect(Buffer.byteLength(a.payload)).toBeLessThanOrEqual(128);
      expect(a.payload).not.toMatch(/pro|229|7d/);
      const order = await t.app.db
        .selectFrom('orders')
        .selectAll()
        .where('id', '=', a.orderId)
        .executeTakeFirstOrThrow();
      expect(order).toMatchObject({
        user_id: user,
        product_code: 'pro_7d',
        kind: 'plan',
        plan: 'pro',
        days: 7,
        price: 229,
      });
    });

    it('keeps the old price for an order made before a price change', async () => {
      const user = await newUser();
      const old = await t.app.payments.createOrder(user, 'pack_20', 'en');
      await setCatalogue(DEFAULT_CATALOGUE.map((p) => (p.code === 'pack_20' ? { ...p, price: 150 } : p)));
      try {
        const fresh = await t.app.payments.createOrder(user, 'pack_20', 'en');
        expect(fresh.orderId).not.toBe(old.orderId);
        expect(fresh.price).toBe(150);
        const ok = await t.app.payments.preCheckout({
          userId: user,
          payload: old.payload,
          currency: 'XTR',
          amount: 99,
        });
        expect(ok.ok).toBe(true);
        const r = await pay(user, old.payload, 99);
        expect(r.outcome).toBe('credited');
        expect(await t.app.imageCredits.purchasedLeft(user)).toBe(20);
      } finally {
        await t.app.settings.reset('payments.catalogue');
      }
    });

    it('refuses unknown, foreign, altered, expired, withdrawn, paid orders and banned users', async () => {
      const [ann, bob] = [await newUser(), await newUser()];
      const inv = await t.app.payments.createOrder(ann, 'pro_30d', 'en');
      const q = (over: Partial<{ userId: number; payload: string; currency: string; amount: number }> = {}) =>
        t.app.payments.preCheckout({
          userId: ann,
          payload: inv.payload,
          currency: 'XTR',
          amount: 649,
          ...over,
        });
      expect(await q()).toEqual({ ok: true, orderId: inv.orderId });
      expect(await q({ payload: 'onope' })).toEqual({ ok: false, reason: 'unknown_order' });
      expect(await q({ userId: bob })).toEqual({ ok: false, reason: 'foreign_order' });
      expect(await q({ amount: 1 })).toEqual({ ok: false, reason: 'amount_mismatch' });
      expect(await q({ currency: 'USD' })).toEqual({ ok: false, reason: 'amount_mismatch' });

      await t.app.users.ban(ann, 'test');
      expect(await q()).toEqual({ ok: false, reason: 'banned' });
      await t.app.users.unban(ann);

      await setCatalogue(DEFAULT_CATALOGUE.map((p) => (p.code === 'pro_30d' ? { ...p, active: false } : p)));
      expect(await q()).toEqual({ ok: false, reason: 'withdrawn' });
      await t.app.settings.reset('payments.catalogue');
      // A withdrawal is final for the orders it refused.
      expect(await q()).toEqual({ ok: false, reason: 'withdrawn' });

      const late = await t.app.payments.createOrder(bob, 'pro_30d', 'en');
      await expireOrder(late.orderId);
      const expired = () =>
        t.app.payments.preCheckout({ userId: bob, payload: late.payload, currency: 'XTR', amount: 649 });
      expect(await expired()).toEqual({ ok: false, reason: 'expired' });
      expect(await expired()).toEqual({ ok: false, reason: 'expired' });

      const paid = await t.app.payments.createOrder(bob, 'pack_50', 'en');
      await pay(bob, paid.payload, 219);
      expect(
        await t.app.payments.preCheckout({
          userId: bob,
          payload: paid.payload,
          currency: 'XTR',
          amount: 219,
        }),
      ).toEqual({
        ok: false,
        reason: 'already_paid',
      });
    });
  });

  describe('crediting', () => {
    it('credits a plan once, whatever the same charge does next', async () => {
      const user = await newUser();
      const inv = await t.app.payments.createOrder(user, 'pro_7d', 'en');
      const p = incoming(user, inv.payload, 229, { raw: { update_id: 10 } });
      // The same update twice at once and again later (a re-delivery, the same charge in a new update).
      const results = await Promise.all([t.app.payments.credit(p), t.app.payments.credit(p)]);
      const again = await t.app.payments.credit({ ...p, raw: { update_id: 11 } });
      expect(results.map((r) => r.outcome).sort()).toEqual(['credited', 'duplicate']);
      expect(again.outcome).toBe('duplicate');
      const rows = await payments(user);
      expect(rows).toHaveLength(1);
      expect(rows[0]).toMatchObject({
        status: 'credited',
        amount: 229,
        product_code: 'pro_7d',
        raw_update: { update_id: 10 },
      });
      const s = await sub(user);
      expect(s.plan).toBe('pro');
      expect(s.messages_limit).toBe(1_000_000);
      expect(s.expires_at!.getTime()).toBeGreaterThan(Date.now() + 7 * DAY - 60_000);
      expect(s.expires_at!.getTime()).toBeLessThan(Date.now() + 7 * DAY + 60_000);
      const order = await t.app.db
        .selectFrom('orders')
        .select('status')
        .where('id', '=', inv.orderId)
        .executeTakeFirstOrThrow();
      expect(order.status).toBe('paid');
    });

    it('stacks a second plan on the first, and a refund takes back exactly what each added', async () => {
      const user = await newUser();
      const first = await pay(user, (await t.app.payments.createOrder(user, 'pro_30d', 'en')).payload, 649);
      const afterFirst = (await sub(user)).expires_at!.getTime();
      const second = await pay(user, (await t.app.payments.createOrder(user, 'pro_7d', 'en')).payload, 229);
      expect((await sub(user)).expires_at!.getTime()).toBe(afterFirst + 7 * DAY);

      // The first is refunded while the second is stacked on it: only what is left of its 30 days
      // goes (the moments since it was bought were used).
      expect(await t.app.payments.refundedByTelegram(first.payment.telegram_payment_charge_id)).toBe(true);
      const used = (await sub(user)).expires_at!.getTime() - (afterFirst + 7 * DAY - 30 * DAY);
      expect(used).toBeGreaterThanOrEqual(0);
      expect(used).toBeLessThan(60_000);
      // Nothing stacked on the second any more: the plan goes back to where it was before it.
      expect(await t.app.payments.refundedByTelegram(second.payment.telegram_payment_charge_id)).toBe(true);
      expect(await sub(user)).toMatchObject({
        plan: 'free',
        expires_at: null,
        messages_limit: 30,
        images_limit: 3,
      });
      // Told twice, reverted once.
      expect(await t.app.payments.refundedByTelegram(second.payment.telegram_payment_charge_id)).toBe(false);
      expect((await payments(user)).map((p) => p.status)).toEqual(['refunded', 'refunded']);
    });

    it('puts a plan bought on top of a granted one back exactly where it was', async () => {
      const user = await newUser();
      const until = new Date(Date.now() + 3 * DAY);
      await t.app.subscriptions.grantPlan(user, 'premium', until);
      const r = await pay(user, (await t.app.payments.createOrder(user, 'pro_7d', 'en')).payload, 229);
      expect((await sub(user)).expires_at!.getTime()).toBe(until.getTime() + 7 * DAY);
      await Promise.all([
        t.app.payments.refundedByTelegram(r.payment.telegram_payment_charge_id),
        t.app.payments.refundedByTelegram(r.payment.telegram_payment_charge_id),
      ]);
      expect(await sub(user)).toMatchObject({
        plan: 'premium',
        expires_at: until,
        messages_limit: 1000,
        images_limit: 100,
      });
    });

    it('a refund of a plan whose time ran out takes nothing from the plan bought after it', async () => {
      const user = await newUser();
      const old = await pay(user, (await t.app.payments.createOrder(user, 'pro_7d', 'en')).payload, 229);
      // Its 7 days pass (as if bought 8 days ago); the expiry job moves the user to free; they buy
      // again, from idle.
      const ago = new Date(Date.now() - DAY).toISOString();
      await t.app.db
        .updateTable('payments')
        .set({ grant: sql`jsonb_set("grant", '{expiresAt}', to_jsonb(${ago}::text))` })
        .where('id', '=', old.payment.id)
        .execute();
      await t.app.db
        .updateTable('subscriptions')
        .set({ expires_at: new Date(ago) })
        .where('user_id', '=', user)
        .execute();
      await t.app.subscriptions.expireDue();
      await pay(user, (await t.app.payments.createOrder(user, 'pro_7d', 'en')).payload, 229);
      const current = await sub(user);
      expect(await t.app.payments.refundedByTelegram(old.payment.telegram_payment_charge_id)).toBe(true);
      expect(await sub(user)).toMatchObject({ plan: 'pro', expires_at: current.expires_at });
      // A refund of the plan running now still takes it back.
      const now = await payments(user);
      expect(await t.app.payments.refundedByTelegram(now[1]!.telegram_payment_charge_id)).toBe(true);
      expect(await sub(user)).toMatchObject({ plan: 'free', expires_at: null });
    });

    it('sells no time on top of a plan with no end, and a payment that slips through keeps it endless', async () => {
      const user = await newUser();
      const order = await t.app.payments.createOrder(user, 'pro_7d', 'en');
      await t.app.subscriptions.grantPlan(user, 'premium', null);
      // The invoice opened before the grant is refused at pre-checkout, and no new one is made.
      expect(
        await t.app.payments.preCheckout({
          userId: user,
          payload: order.payload,
          currency: 'XTR',
          amount: 229,
        }),
      ).toEqual({ ok: false, reason: 'endless_plan' });
      await expect(t.app.payments.createOrder(user, 'pro_30d', 'en')).rejects.toMatchObject({
        details: { reason: 'endless_plan' },
      });
      // Packs are still sold.
      await expect(t.app.payments.createOrder(user, 'pack_20', 'en')).resolves.toMatchObject({ price: 99 });
      // Telegram charged anyway (the verdict raced the grant): credited, and the plan keeps no end.
      const r = await pay(user, order.payload, 229);
      expect(r.outcome).toBe('credited');
      expect(await sub(user)).toMatchObject({ plan: 'premium', expires_at: null });
      // Its refund takes nothing away either.
      expect(await t.app.payments.refundedByTelegram(r.payment.telegram_payment_charge_id)).toBe(true);
      expect(await sub(user)).toMatchObject({ plan: 'premium', expires_at: null });
    });

    it('keeps a charge it cannot match as an orphan, refunded or kept by the policy', async () => {
      const [ann, bob] = [await newUser(), await newUser()];
      const unknown = await pay(ann, 'o-not-an-order', 50);
      expect(unknown).toMatchObject({ outcome: 'orphan', reason: 'unknown_order' });
      expect(unknown.payment.status).toBe('refund_pending');

      await t.app.settings.set('payments.orphan_policy', 'manual');
      try {
        const inv = await t.app.payments.createOrder(ann, 'pack_20', 'en');
        expect(await pay(bob, inv.payload, 99)).toMatchObject({ outcome: 'orphan', reason: 'foreign_order' });
        expect(await pay(ann, inv.payload, 98)).toMatchObject({
          outcome: 'orphan',
          reason: 'amount_mismatch',
        });
        expect((await pay(ann, inv.payload, 99)).outcome).toBe('credited');
        // A second genuine charge for an order already paid: the user is not charged twice for it.
        expect(await pay(ann, inv.payload, 99)).toMatchObject({
          outcome: 'orphan',
          reason: 'order_already_paid',
        });
        await t.app.users.ban(bob, 'test');
        const banned = await t.app.payments.createOrder(bob, 'pack_20', 'en');
        expect(await pay(bob, banned.payload, 99)).toMatchObject({
          outcome: 'orphan',
          reason: 'user_banned',
        });
        expect(await t.app.imageCredits.purchasedLeft(ann)).toBe(20);
        expect(await t.app.imageCredits.purchasedLeft(bob)).toBe(0);
        const orphans = await t.app.payments.orphans();
        expect(orphans.filter((p) => p.user_id === ann || p.user_id === bob)).toHaveLength(4);
        expect(orphans.every((p) => p.status === 'orphan' && p.grant === null)).toBe(true);
      } finally {
        await t.app.settings.reset('payments.orphan_policy');
      }
    });
  });

  it('a plan removed from the plans setting since the order was made: an orphan, refunded', async () => {
    const user = await newUser();
    const inv = await t.app.payments.createOrder(user, 'pro_7d', 'en');
    const plans = await t.app.settings.get('plans');
    const { pro: _removed, ...rest } = plans;
    await t.app.settings.set('plans', rest);
    try {
      const r = await pay(user, inv.payload, 229);
      expect(r).toMatchObject({ outcome: 'orphan', reason: 'product_unavailable' });
      expect(r.payment.status).toBe('refund_pending');
      expect((await sub(user)).plan).toBe('free');
    } finally {
      await t.app.settings.reset('plans');
    }
  });

  describe('image units and packs', () => {
    it('takes plan images first, then the oldest pack, and gives each back once to its source', async () => {
      const user = await newUser();
      const first = await pay(user, (await t.app.payments.createOrder(user, 'pack_20', 'en')).payload, 99);
      await pay(user, (await t.app.payments.createOrder(user, 'pack_50', 'en')).payload, 219);
      const takes = await Promise.all(Array.from({ length: 5 }, () => t.app.imageCredits.take(user)));
      expect(takes.map((x) => (x.ok ? x.source : 'none')).sort()).toEqual([
        'pack',
        'pack',
        'plan',
        'plan',
        'plan',
      ]);
      const packIds = new Set(takes.flatMap((x) => (x.ok && x.source === 'pack' ? [x.packId] : [])));
      expect(packIds).toEqual(new Set([(first.payment.grant as { packId: number }).packId]));
      expect(await t.app.imageCredits.purchasedLeft(user)).toBe(68);
      expect((await sub(user)).images_used).toBe(3);

      const pack = takes.find((x) => x.ok && x.source === 'pack')!;
      const plan = takes.find((x) => x.ok && x.source === 'plan')!;
      if (!pack.ok || !plan.ok) throw new Error('unreachable');
      expect(
        await Promise.all([t.app.imageCredits.giveBack(pack.useId), t.app.imageCredits.giveBack(pack.useId)]),
      ).toEqual(expect.arrayContaining([true, false]));
      expect(await t.app.imageCredits.giveBack(plan.useId)).toBe(true);
      expect(await t.app.imageCredits.giveBack(plan.useId)).toBe(false);
      expect(await t.app.imageCredits.purchasedLeft(user)).toBe(69);
      expect((await sub(user)).images_used).toBe(2);
    });

    it('a quota reset never touches packs, and a plan unit taken before a reset is not given back after it', async () => {
      const user = await newUser();
      await pay(user, (await t.app.payments.createOrder(user, 'pack_20', 'en')).payload, 99);
      const take = await t.app.imageCredits.take(user);
      if (!take.ok) throw new Error('no image');
      expect(take.source).toBe('plan');
      await t.app.db
        .updateTable('subscriptions')
        .set({ quota_period_start: sql`now() - interval '2 days'` })
        .where('user_id', '=', user)
        .execute();
      await t.app.subscriptions.resetEndedPeriods();
      expect(await t.app.imageCredits.purchasedLeft(user)).toBe(20);
      expect(await t.app.imageCredits.giveBack(take.useId)).toBe(false);
      expect((await sub(user)).images_used).toBe(0);
    });

    it('a partly used pack refunded loses what is left of it, never below zero, exactly once', async () => {
      const user = await newUser();
      const bought = await pay(user, (await t.app.payments.createOrder(user, 'pack_20', 'en')).payload, 99);
      await t.app.db
        .updateTable('subscriptions')
        .set({ images_limit: 0 })
        .where('user_id', '=', user)
        .execute();
      const used = [];
      for (let i = 0; i < 7; i++) used.push(await t.app.imageCredits.take(user));
      expect(used.every((u) => u.ok && u.source === 'pack')).toBe(true);
      expect(await t.app.imageCredits.purchasedLeft(user)).toBe(13);
      const chargeId = bought.payment.telegram_payment_charge_id;
      const done = await Promise.all([
        t.app.payments.refundedByTelegram(chargeId),
        t.app.payments.refundedByTelegram(chargeId),
      ]);
      expect(done.filter(Boolean)).toHaveLength(1);
      const packs = await t.app.imageCredits.packs(user);
      expect(packs).toMatchObject([{ images_total: 20, images_left: 0, refunded_at: expect.any(Date) }]);
      // An image that failed after the refund has nothing to go back to.
      const last = used[6]!;
      if (!last.ok) throw new Error('unreachable');
      expect(await t.app.imageCredits.giveBack(last.useId)).toBe(false);
      expect(await t.app.imageCredits.purchasedLeft(user)).toBe(0);
      expect(await t.app.imageCredits.take(user)).toEqual({ ok: false });
    });
  });

  describe('Star subscriptions', () => {
    it('first payment, renewal (also re-delivered), late renewal after expiry, refund', async () => {
      const user = await newUser();
      const inv = await t.app.payments.createOrder(user, 'pro_monthly', 'en');
      expect(inv.subscriptionPeriod).toBe(2_592_000);
      const periodEnd = new Date(Date.now() + 30 * DAY);
      const first = await pay(user, inv.payload, 599, {
        subscriptionExpiresAt: periodEnd,
        isRecurring: true,
        isFirstRecurring: true,
      });
      expect(first.outcome).toBe('credited');
      const star = await t.app.payments.starSubscription(user);
      expect(star).toMatchObject({
        status: 'active',
        plan: 'pro',
        period_end: periodEnd,
        renewal_canceled_at: null,
      });
      const planEnd = (await sub(user)).expires_at!.getTime();
      expect(planEnd).toBe(periodEnd.getTime() + 3_600_000);
      // A second subscription is not sold while one runs.
      await expect(t.app.payments.createOrder(user, 'pro_monthly', 'en')).rejects.toThrow(/already/);

      const next = new Date(periodEnd.getTime() + 30 * DAY);
      const renewal = {
        subscriptionExpiresAt: next,
        isRecurring: true,
        isFirstRecurring: false,
        chargeId: 'stx-renewal-1',
      };
      const renewed = await pay(user, inv.payload, 599, renewal);
      expect(renewed.outcome).toBe('renewed');
      expect((await pay(user, inv.payload, 599, renewal)).outcome).toBe('duplicate');
      expect((await sub(user)).expires_at!.getTime()).toBe(next.getTime() + 3_600_000);
      expect((await t.app.payments.starSubscription(user))!.period_end).toEqual(next);

      // The period ends with no renewal: the expiry job downgrades, the sweep marks it expired.
      await t.app.db
        .updateTable('subscriptions')
        .set({ expires_at: new Date(Date.now() - 1000) })
        .where('user_id', '=', user)
        .execute();
      await t.app.db
        .updateTable('star_subscriptions')
        .set({ period_end: new Date(Date.now() - 3 * 3_600_000) })
        .where('user_id', '=', user)
        .execute();
      expect(await t.app.subscriptions.expireDue()).toEqual([{ userId: user, plan: 'pro' }]);
      expect((await t.app.payments.sweep()).subscriptionsExpired).toBe(1);
      expect(await t.app.payments.starSubscription(user)).toBeUndefined();

      // A late renewal revives it from now.
      const late = new Date(Date.now() + 30 * DAY);
      expect(
        (await pay(user, inv.payload, 599, { subscriptionExpiresAt: late, isRecurring: true })).outcome,
      ).toBe('renewed');
      expect(await sub(user)).toMatchObject({
        plan: 'pro',
        expires_at: new Date(late.getTime() + 3_600_000),
      });
      expect((await t.app.payments.starSubscription(user))!.status).toBe('active');

      // Refunding a payment of the subscription ends it.
      await t.app.payments.refundedByTelegram(first.payment.telegram_payment_charge_id);
      const rows = await t.app.db
        .selectFrom('star_subscriptions')
        .selectAll()
        .where('user_id', '=', user)
        .execute();
      expect(rows.map((r) => r.status)).toEqual(['refunded']);
      const later = await pay(user, inv.payload, 599, {
        subscriptionExpiresAt: new Date(late.getTime() + 30 * DAY),
        isRecurring: true,
      });
      expect(later).toMatchObject({ outcome: 'orphan', reason: 'subscription_unknown' });
    });
  });

  describe('sweep', () => {
    it('expires open orders past their end and queues refunds whose job was lost', async () => {
      const user = await newUser();
      const inv = await t.app.payments.createOrder(user, 'pack_100', 'en');
      await expireOrder(inv.orderId);
      const orphan = await pay(user, 'o-lost', 10);
      await t.app.db
        .updateTable('payments')
        .set({ refund_requested_at: new Date(Date.now() - 5 * 60_000) })
        .where('id', '=', orphan.payment.id)
        .execute();
      const r = await t.app.payments.sweep();
      expect(r.ordersExpired).toBeGreaterThanOrEqual(1);
      expect(r.refundsQueued).toBeGreaterThanOrEqual(1);
      const order = await t.app.db
        .selectFrom('orders')
        .select('status')
        .where('id', '=', inv.orderId)
        .executeTakeFirstOrThrow();
      expect(order.status).toBe('expired');
      expect((await t.app.payments.sweep()).ordersExpired).toBe(0);
    });
  });
});

describe.skipIf(!has('postgres'))('crediting through a database hiccup', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await createTestApp({ DB_STATEMENT_TIMEOUT_MS: '400' }, { label: 'payments_retry' });
  });
  afterAll(async () => t?.close());

  it('tries the transaction again and credits once', async () => {
    const userId = 881_000_001;
    await t.app.users.register({ id: userId, first_name: 'Retry' });
    const inv = await t.app.payments.createOrder(userId, 'pack_20', 'en');
    const blocker = new pg.Client({ connectionString: t.testDb.url });
    await blocker.connect();
    const waiting = async () =>
      (await blocker.query('select count(*)::int as n from pg_locks where not granted')).rows[0].n > 0;
    try {
      await blocker.query('begin');
      await blocker.query('select id from orders where reference = $1 for update', [inv.payload]);
      const credit = t.app.payments.credit(incoming(userId, inv.payload, 99));
      // The first try waits for the row and runs into the statement timeout; then the row is free.
      await vi.waitFor(async () => expect(await waiting()).toBe(true), { timeout: 5_000, interval: 10 });
      await vi.waitFor(async () => expect(await waiting()).toBe(false), { timeout: 5_000, interval: 10 });
      await blocker.query('rollback');
      expect((await credit).outcome).toBe('credited');
    } finally {
      await blocker.end();
    }
    expect(await t.app.imageCredits.purchasedLeft(userId)).toBe(20);
    const rows = await t.app.db
      .selectFrom('payments')
      .select('status')
      .where('user_id', '=', userId)
      .execute();
    expect(rows).toEqual([{ status: 'credited' }]);
  });
});
