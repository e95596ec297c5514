import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestApp, type TestApp } from '../helpers/app.js';

describe('users and subscriptions', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await createTestApp({}, { label: 'users' });
  });
  afterAll(async () => t?.close());

  it('50 concurrent registrations of one Telegram id leave one user and one subscription', async () => {
    const profile = { id: 777_000_001, first_name: 'Ann', username: 'ann', language_code: 'en' };
    const results = await Promise.all(
      Array.from({ length: 50 }, (_, i) => t.app.users.register(profile, { utmSource: `src${i}` })),
    );
    expect(results.filter((r) => r.created)).toHaveLength(1);
    const winner = results.find((r) => r.created)!;
    expect(results.every((r) => r.user.id === profile.id)).toBe(true);

    const users = await t.app.db.selectFrom('users').selectAll().where('id', '=', profile.id).execute();
    const subs = await t.app.db
      .selectFrom('subscriptions')
      .selectAll()
      .where('user_id', '=', profile.id)
      .execute();
    expect(users).toHaveLength(1);
    expect(subs).toHaveLength(1);
    expect(users[0]!.utm_source).toBe(winner.user.utm_source);
    expect(subs[0]).toMatchObject({ plan: 'free', messages_limit: 30, images_limit: 3, messages_used: 0 });
  });

  it('keeps the first utm source and sanitizes it', async () => {
    const first = await t.app.users.register(
      { id: 777_000_002, first_name: 'B' },
      { utmSource: 'ads<script>_1' },
    );
    expect(first.user.utm_source).toBe('adsscript_1');
    const again = await t.app.users.register({ id: 777_000_002, first_name: 'B' }, { utmSource: 'other' });
    expect(again.created).toBe(false);
    expect(again.user.utm_source).toBe('adsscript_1');
  });

  it('gives new users the free limits from settings', async () => {
    await t.app.settings.set('plans', {
      free: { messages_limit: 5, images_limit: 1 },
      premium: { messages_limit: 500, images_limit: 50 },
    });
    await t.app.users.register({ id: 777_000_003, first_name: 'C' });
    const sub = await t.app.subscriptions.get(777_000_003);
    expect(sub).toMatchObject({ plan: 'free', messages_limit: 5, images_limit: 1 });
  });

  it('takes messages atomically up to the limit, never beyond', async () => {
    const id = 777_000_004;
    await t.app.users.register({ id, first_name: 'D' });
    const sub = await t.app.subscriptions.get(id);
    const results = await Promise.all(
      Array.from({ length: sub.messages_limit + 10 }, () => t.app.subscriptions.takeMessage(id)),
    );
    expect(results.filter((r) => r.ok)).toHaveLength(sub.messages_limit);
    const refused = results.find((r) => !r.ok);
    expect(refused && !refused.ok && refused.resetsAt).toBeInstanceOf(Date);
    expect((await t.app.subscriptions.get(id)).messages_used).toBe(sub.messages_limit);
  });

  it('starts a new period when the old one has ended', async () => {
    const id = 777_000_005;
    await t.app.users.register({ id, first_name: 'E' });
    await t.app.db
      .updateTable('subscriptions')
      .set({ messages_used: 5, quota_period_start: new Date(Date.now() - 25 * 3_600_000) })
      .where('user_id', '=', id)
      .execute();
    const quota = await t.app.subscriptions.quota(id);
    expect(quota.messagesUsed).toBe(0);
    const res = await t.app.subscriptions.takeMessage(id);
    expect(res.ok && res.subscription.messages_used).toBe(1);
  });

  it('grants a plan with an end date and expires it back to free', async () => {
    const id = 777_000_006;
    await t.app.users.register({ id, first_name: 'F' });
    const until = new Date(Date.now() + 86_400_000);
    const sub = await t.app.subscriptions.grantPlan(id, 'premium', until);
    expect(sub).toMatchObject({ plan: 'premium', messages_limit: 500 });
    await expect(t.app.subscriptions.grantPlan(id, 'gold', until)).rejects.toThrow(/unknown plan/);

    await t.app.db
      .updateTable('subscriptions')
      .set({ expires_at: new Date(Date.now() - 1000) })
      .where('user_id', '=', id)
      .execute();
    expect(await t.app.subscriptions.expireDue()).toContainEqual({ userId: id, plan: 'premium' });
    expect(await t.app.subscriptions.get(id)).toMatchObject({
      plan: 'free',
      messages_limit: 5,
      expires_at: null,
    });
    expect(await t.app.subscriptions.expireDue()).toEqual([]);
  });

  it('marks a user who blocked the bot once and clears it on activity', async () => {
    const id = 777_000_007;
    await t.app.users.register({ id, first_name: 'G' });
    expect(await t.app.users.markBotBlocked(id)).toBe(true);
    expect(await t.app.users.markBotBlocked(id)).toBe(false);
    expect((await t.app.users.get(id)).bot_blocked_at).toBeInstanceOf(Date);
    await t.app.users.touch({ id, first_name: 'G2', username: 'g2' });
    expect(await t.app.users.get(id)).toMatchObject({
      bot_blocked_at: null,
      first_name: 'G2',
      username: 'g2',
    });
  });
});
