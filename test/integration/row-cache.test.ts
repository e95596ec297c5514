import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type PgCounts, startPgCounter, type WireCounter } from '../../bench/harness/wire-counters.js';
import { type App, createApp } from '../../src/app.js';
import { loadConfig } from '../../src/config.js';
import { createTestApp, type TestApp } from '../helpers/app.js';
import { silentLogger } from '../helpers/db.js';
import { has } from '../helpers/services.js';
import { startSystem, type TestSystem } from '../helpers/system.js';

const PLANS = {
  free: { messages_limit: 5, images_limit: 1 },
  premium: { messages_limit: 500, images_limit: 50 },
};

const ann = (id: number) => ({ id, first_name: `User${id}`, language_code: 'en' });

/** Sum of one counter's samples whose labels include `labels`. */
async function counter(app: App, name: string, labels: Record<string, string>): Promise<number> {
  const metric = await app.metrics.registry.getSingleMetric(name)?.get();
  return (metric?.values ?? [])
    .filter((v) => Object.entries(labels).every(([k, l]) => v.labels[k] === l))
    .reduce((sum, v) => sum + v.value, 0);
}

const until = (ms: number) => new Promise((r) => setTimeout(r, Math.max(0, ms - Date.now())));

/** Rows are cached only while the invalidation bus is live (its subscriptions confirmed). */
async function busLive(app: App): Promise<void> {
  for (let i = 0; !app.bus.live; i++) {
    if (i > 500) throw new Error('the invalidation bus did not come up');
    await new Promise((r) => setTimeout(r, 10));
  }
}

describe.skipIf(!has('redis'))('cached subscriptions and users', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await createTestApp({ LLM_BASE_URL: 'http://127.0.0.1:9/v1' }, { redis: true, label: 'row_cache' });
    await t.app.settings.set('plans', PLANS);
    await busLive(t.app);
  });
  afterAll(async () => t?.close());

  it('a plan that ends in 2 s is judged free after 3 s: never served stale from the cache', async () => {
    const id = 8_001;
    await t.app.users.register(ann(id));
    const ends = new Date(Date.now() + 2_000);
    await t.app.subscriptions.grantPlan(id, 'premium', ends);
    for (let i = 0; i < 5; i++) expect((await t.app.subscriptions.takeMessage(id)).ok).toBe(true);
    const hits = await counter(t.app, 'vitte_row_cache_requests_total', {
      cache: 'subscriptions',
      result: 'hit',
    });
    expect(await t.app.subscriptions.quota(id)).toMatchObject({ plan: 'premium', messagesLimit: 500 });
    expect(await t.app.subscriptions.quota(id)).toMatchObject({ plan: 'premium', messagesUsed: 5 });
    expect(
      await counter(t.app, 'vitte_row_cache_requests_total', { cache: 'subscriptions', result: 'hit' }),
    ).toBe(hits + 1);

    await until(ends.getTime() + 1_000);
    // No job has run: the row still says premium, and neither the view nor the take believes it.
    expect((await t.app.subscriptions.get(id)).plan).toBe('premium');
    expect(await t.app.subscriptions.quota(id)).toMatchObject({
      plan: 'free',
      expiresAt: null,
      messagesLimit: 5,
      messagesUsed: 5,
    });
    expect(await t.app.subscriptions.takeMessage(id)).toMatchObject({ ok: false });
  });

  it('a quota take racing 50 concurrent messages never over-spends; the cache then shows the count', async () => {
    const id = 8_002;
    const { user } = await t.app.users.register(ann(id));
    expect((await t.app.subscriptions.quota(id)).messagesUsed).toBe(0);
    const results = await Promise.all(
      Array.from({ length: 50 }, (_, i) =>
        t.app.chat.accept(user, `question ${i}`, { chatId: id, telegramMessageId: 100 + i }),
      ),
    );
    const kinds = results.map((r) => r.kind);
    expect(kinds.filter((k) => k === 'queued')).toHaveLength(5);
    expect(kinds.filter((k) => k === 'quota_exceeded')).toHaveLength(45);
    expect((await t.app.subscriptions.get(id)).messages_used).toBe(5);
    const stored = await t.app.db
      .selectFrom('messages')
      .innerJoin('dialogs', 'dialogs.id', 'messages.dialog_id')
      .select((eb) => eb.fn.countAll<string>().as('n'))
      .where('dialogs.user_id', '=', id)
      .executeTakeFirstOrThrow();
    expect(Number(stored.n)).toBe(5);
    const dialogs = await t.app.db.selectFrom('dialogs').select('id').where('user_id', '=', id).execute();
    expect(dialogs).toHaveLength(1);
    expect((await t.app.subscriptions.quota(id)).messagesUsed).toBe(5);
  });

  it('an admin ban and a plan grant are seen at once by the same process', async () => {
    const id = 8_003;
    await t.app.users.register(ann(id));
    expect((await t.app.users.findCached(id))?.banned_at).toBeNull();
    expect((await t.app.subscriptions.quota(id)).plan).toBe('free');
    await t.app.users.ban(id, 'spam');
    await t.app.subscriptions.grantPlan(id, 'premium', null);
    expect((await t.app.users.findCached(id))?.banned_at).toBeInstanceOf(Date);
    expect((await t.app.subscriptions.quota(id)).plan).toBe('premium');
  });
});

describe.skipIf(!has('redis') || !has('postgres'))('a cold burst', () => {
  let t: TestApp;
  let app: App;
  let pg: WireCounter<PgCounts>;
  beforeAll(async () => {
    t = await createTestApp({}, { redis: true, label: 'row_cache_burst' });
    pg = await startPgCounter(t.testDb.url!);
    // A second App on the same data, talking to PostgreSQL through the counting proxy.
    app = createApp(loadConfig({ ...envOf(t.app), DATABASE_URL: pg.url }), { logger: silentLogger });
    for (const id of [1, 8_101]) await t.app.users.register(ann(id));
    await busLive(app);
    // Warm the settings on a key of its own.
    await app.subscriptions.quota(1);
    await app.users.findCached(1);
  });
  afterAll(async () => {
    await app?.close();
    await pg?.close();
    await t?.close();
  });

  it('makes one query per row, however many reads wait for it', async () => {
    const before = pg.snapshot().statements;
    const [quotas, users] = await Promise.all([
      Promise.all(Array.from({ length: 50 }, () => app.subscriptions.quota(8_101))),
      Promise.all(Array.from({ length: 50 }, () => app.users.findCached(8_101))),
    ]);
    expect(new Set(quotas.map((q) => q.plan))).toEqual(new Set(['free']));
    expect(users.every((u) => u?.id === 8_101)).toBe(true);
    expect(pg.snapshot().statements - before).toBe(2);
    // Warm now: no query at all.
    await Promise.all([app.subscriptions.quota(8_101), app.users.findCached(8_101)]);
    expect(pg.snapshot().statements - before).toBe(2);
  });
});

/** The environment an App was configured from, for another App on the same database and Redis. */
function envOf(app: App): Record<string, string> {
  const c = app.config;
  return {
    NODE_ENV: 'test',
    LOG_LEVEL: 'silent',
    DATA_DIR: c.DATA_DIR,
    ...(c.DATABASE_URL ? { DATABASE_URL: c.DATABASE_URL } : {}),
    ...(c.REDIS_URL ? { REDIS_URL: c.REDIS_URL, REDIS_PREFIX: c.REDIS_PREFIX } : {}),
  };
}

describe.skipIf(!has('redis') || !has('postgres'))('a write in another process', () => {
  let s: TestSystem;
  let other: App;
  beforeAll(async () => {
    s = await startSystem({ mode: 'webhook', redis: true, label: 'row_cache_other' });
    await s.app.settings.set('plans', PLANS);
    // Another process on the same database and Redis (an admin panel, a payment handled by another replica).
    other = createApp(loadConfig(envOf(s.app)), { logger: silentLogger, role: 'admin' });
  });
  afterAll(async () => {
    await other?.close();
    await s?.close();
  });

  it('a plan grant and a ban are seen at the next update', async () => {
    const user = ann(8_201);
    await s.tg.injectMessage({ user, text: '/status' });
    await s.tg.waitForBotMessage(user.id, (m) => Boolean(m.text?.startsWith('Your plan: Free')));
    await s.tg.injectMessage({ user, text: '/status' });
    await s.tg.waitFor(
      async () => ((await s.tg.botMessages(user.id)).length === 2 ? true : undefined),
      'the second answer (from the cache)',
    );

    await other.subscriptions.grantPlan(user.id, 'premium', null);
    await s.tg.injectMessage({ user, text: '/status' });
    await s.tg.waitFor(
      async () => ((await s.tg.botMessages(user.id)).length === 3 ? true : undefined),
      'the third answer',
    );
    expect((await s.tg.botMessages(user.id)).at(-1)?.text).toMatch(/^Your plan: Premium/);

    await other.users.ban(user.id, 'abuse');
    await s.tg.injectMessage({ user, text: '/status' });
    await s.tg.waitFor(
      async () => ((await s.tg.botMessages(user.id)).length === 4 ? true : undefined),
      'the fourth answer',
    );
    expect((await s.tg.botMessages(user.id)).at(-1)?.text).toMatch(/suspended/);
  });
});
