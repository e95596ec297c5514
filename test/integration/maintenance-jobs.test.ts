import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chatJobs } from '../../src/domain/chat/chat.jobs.js';
import { dialogsJobs } from '../../src/domain/dialogs/dialogs.jobs.js';
import { subscriptionsJobs } from '../../src/domain/subscriptions/subscriptions.jobs.js';
import type { JobContext } from '../../src/platform/queue/index.js';
import { createTestApp, type TestApp } from '../helpers/app.js';
import { silentLogger } from '../helpers/db.js';
import { createUser } from '../helpers/factories.js';

function ctx(): JobContext {
  return {
    id: 'test',
    name: 'test',
    queue: 'maintenance',
    attempt: 1,
    maxAttempts: 1,
    signal: new AbortController().signal,
    logger: silentLogger,
    rateLimited: () => {
      throw new Error('not expected');
    },
    defer: () => {
      throw new Error('not expected');
    },
  };
}

describe('scheduled jobs against real Postgres', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await createTestApp({}, { label: 'maintenance' });
  });
  afterAll(async () => t?.close());

  async function user(id: number) {
    return (await createUser(t.app, { id, firstName: `M${id}` })).id;
  }

  it('dialogs.delete-old-messages deletes only messages past the retention, in batches', async () => {
    const id = await user(9001);
    const dialog = await t.app.dialogs.create(id, 'old and new');
    await t.app.settings.set('messages.retention_days', 30);
    await sql`
      insert into messages (dialog_id, role, content, created_at)
      select ${dialog.id}, 'user', 'old ' || g, now() - interval '40 days'
      from generate_series(1, 12345) g`.execute(t.app.db);
    await sql`
      insert into messages (dialog_id, role, content, created_at)
      select ${dialog.id}, 'user', 'new ' || g, now() - interval '10 days'
      from generate_series(1, 100) g`.execute(t.app.db);
    const res = await dialogsJobs(t.app.dialogs, t.app.settings)['dialogs.delete-old-messages']({}, ctx());
    expect(res).toEqual({ deleted: 12345 });
    const left = await t.app.db
      .selectFrom('messages')
      .select((eb) => eb.fn.countAll<number>().as('n'))
      .executeTakeFirstOrThrow();
    expect(Number(left.n)).toBe(100);
    // Batches are bounded: one call of the repository never deletes more than asked.
    await sql`insert into messages (dialog_id, role, content, created_at) select ${dialog.id}, 'user', 'x', now() - interval '40 days' from generate_series(1, 30)`.execute(
      t.app.db,
    );
    expect(await t.app.dialogs.deleteOldMessages(30, 7)).toBe(30);
  });

  it('subscriptions.expire moves ended plans back to free and tells each user once', async () => {
    const a = await user(9002);
    const b = await user(9003);
    const c = await user(9004);
    const until = new Date(Date.now() + 3_600_000);
    for (const id of [a, b, c]) await t.app.subscriptions.grantPlan(id, 'premium', until);
    await t.app.db
      .updateTable('subscriptions')
      .set({ expires_at: new Date(Date.now() - 60_000) })
      .where('user_id', 'in', [a, b])
      .execute();
    const told: [number, string, unknown][] = [];
    const jobs = subscriptionsJobs(t.app.subscriptions, async (userId, key, vars) => {
      told.push([userId, key, vars]);
    });
    expect(await jobs['subscriptions.expire']({}, ctx())).toEqual({ expired: 2 });
    expect(told.sort()).toEqual([
      [a, 'subscription-expired', { plan: 'premium' }],
      [b, 'subscription-expired', { plan: 'premium' }],
    ]);
    expect(await jobs['subscriptions.expire']({}, ctx())).toEqual({ expired: 0 });
    expect(told).toHaveLength(2);
    expect((await t.app.subscriptions.get(a)).plan).toBe('free');
    expect((await t.app.subscriptions.get(c)).plan).toBe('premium');
  });

  it('subscriptions.reset-quotas resets counters whose period ended and leaves the others', async () => {
    const a = await user(9005);
    const b = await user(9006);
    await t.app.db
      .updateTable('subscriptions')
      .set({ messages_used: 9, images_used: 2, quota_period_start: new Date(Date.now() - 25 * 3_600_000) })
      .where('user_id', '=', a)
      .execute();
    await t.app.db.updateTable('subscriptions').set({ messages_used: 4 }).where('user_id', '=', b).execute();
    const jobs = subscriptionsJobs(t.app.subscriptions, async () => {});
    const res = (await jobs['subscriptions.reset-quotas']({}, ctx())) as { reset: number };
    expect(res.reset).toBeGreaterThanOrEqual(1);
    expect(await t.app.subscriptions.get(a)).toMatchObject({ messages_used: 0, images_used: 0 });
    expect((await t.app.subscriptions.get(b)).messages_used).toBe(4);
  });

  it('chat.sweep re-enqueues replies stuck in the pending state', async () => {
    const id = await user(9007);
    const dialog = await t.app.dialogs.create(id, 'stuck');
    await t.app.db
      .insertInto('messages')
      .values({ dialog_id: dialog.id, role: 'user', content: 'hello?', metadata: '{}' })
      .execute();
    // A message that waited too long and was never answered (the worker died), and a fresh one.
    await t.app.db
      .updateTable('dialogs')
      .set({
        last_user_message_id: sql`(select max(id) from messages where dialog_id = ${dialog.id})`,
        updated_at: new Date(Date.now() - 120_000),
      })
      .where('id', '=', dialog.id)
      .execute();
    const fresh = await t.app.dialogs.create(await user(9008), 'fresh');
    await t.app.db
      .insertInto('messages')
      .values({ dialog_id: fresh.id, role: 'user', content: 'hi', metadata: '{}' })
      .execute();
    await t.app.db
      .updateTable('dialogs')
      .set({ last_user_message_id: sql`(select max(id) from messages where dialog_id = ${fresh.id})` })
      .where('id', '=', fresh.id)
      .execute();

    const res = await chatJobs(t.app.chat, t.app.summaries)['chat.sweep']({}, ctx());
    expect(res).toEqual({ requeued: 1 });
    const counts = await t.app.queue.counts();
    expect(counts.chat?.waiting).toBe(1);
  });
});
