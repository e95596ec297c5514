import { sql } from 'kysely';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { App } from '../../src/app.js';
import { startRole } from '../../src/cli/roles.js';
import { loadConfig } from '../../src/config.js';
import { EmulatorClient } from '../../src/dev/bot-api-emulator/index.js';
import { migrateUp } from '../../src/platform/db/migrator.js';
import { launchBrowser, screenshot } from '../helpers/browser.js';
import { createTestDatabase, silentLogger, type TestDatabase } from '../helpers/db.js';
import { has } from '../helpers/services.js';

const OWNER = { username: 'boss', password: 'boss-password-123' };
const DAY = 86_400_000;
const PEOPLE = [
  { id: 610_001, first_name: 'Alice', username: 'alice', language_code: 'en' },
  { id: 610_002, first_name: 'Boris', username: 'boris', language_code: 'ru' },
  { id: 610_003, first_name: 'Carmen', username: 'carmen_s', language_code: 'en' },
  { id: 610_004, first_name: 'Dmitri', last_name: 'Spammer', language_code: 'en' },
];
const SPAMMER = PEOPLE[3]!;
const BANNED_TEXT = 'Your access to this bot has been suspended';

/**
 * The admin panel against the whole system in one process (`vitte all`: bot, worker, API, admin)
 * with the Bot API emulator: people talk to the real bot, an operator works in Chromium.
 */
describe.skipIf(!has('chromium'))('admin panel in Chromium against the running system', () => {
  let browser: Browser;
  let testDb: TestDatabase;
  let app: App;
  let url = '';
  let emulator: EmulatorClient;
  let page: Page;
  /** Every confirmation the pages asked, and how the next one is answered. */
  const asked: string[] = [];
  let answer: 'accept' | 'dismiss' = 'accept';

  async function count(query: ReturnType<typeof sql<{ n: number }>>): Promise<number> {
    return Number((await query.execute(app.db)).rows[0]!.n);
  }

  async function signIn(p: Page): Promise<void> {
    await p.goto(`${url}/admin`);
    await p.waitForURL(/\/admin\/login/);
    await p.fill('#f-username', OWNER.username);
    await p.fill('#f-password', OWNER.password);
    await p.click('button[type=submit]');
    await p.waitForURL(`${url}/admin`);
  }

  beforeAll(async () => {
    browser = await launchBrowser();
    testDb = await createTestDatabase('admin_browser');
    if (testDb.url) {
      const db = testDb.open();
      await migrateUp(db.db, silentLogger);
      await db.close();
    }
    const config = loadConfig({
      NODE_ENV: 'test',
      LOG_LEVEL: 'silent',
      API_PORT: '0',
      EMULATOR_PORT: '0',
      DATA_DIR: testDb.dataDir,
      ...(testDb.url ? { DATABASE_URL: testDb.url } : {}),
      ADMIN_BOOTSTRAP_USERNAME: OWNER.username,
      ADMIN_BOOTSTRAP_PASSWORD: OWNER.password,
    });
    const started = await startRole('all', config);
    app = started.app;
    url = started.url;
    emulator = new EmulatorClient(started.emulatorUrl!);

    // Real people register by writing to the bot.
    for (const person of PEOPLE) {
      await emulator.injectMessage({ user: person, text: '/start' });
      await emulator.waitForBotMessage(person.id);
    }
    // And some who came earlier (backdated), for the charts and the 7/30-day numbers.
    for (let i = 0; i < 6; i++) {
      const id = 620_000 + i;
      await emulator.injectMessage({ user: { id, first_name: `Old${i}` }, text: '/start' });
      await emulator.waitForBotMessage(id);
      await app.db
        .updateTable('users')
        .set({
          created_at: new Date(Date.now() - (i * 5 + 1) * DAY),
          last_active_at: new Date(Date.now() - i * 4 * DAY),
          bot_blocked_at: i === 5 ? new Date() : null,
        })
        .where('id', '=', id)
        .execute();
      if (i % 3 === 0)
        await app.db
          .updateTable('subscriptions')
          .set({ plan: 'premium' })
          .where('user_id', '=', id)
          .execute();
    }
    page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    page.on('dialog', (d) => {
      asked.push(d.message());
      void (answer === 'accept' ? d.accept() : d.dismiss());
    });
  }, 90_000);

  afterAll(async () => {
    await browser?.close();
    await app?.close();
    await testDb?.drop();
  });

  it('refuses a wrong password, signs in, and the dashboard shows what the database holds', async () => {
    await page.goto(`${url}/admin/users`);
    await page.waitForURL(/\/admin\/login\?next=/);
    await screenshot(page, 'admin-login');
    await page.fill('#f-username', OWNER.username);
    await page.fill('#f-password', 'not-the-password');
    await page.click('button[type=submit]');
    await page.waitForSelector('.notice.error');
    expect(await page.textContent('.notice.error')).toContain('Invalid username or password');

    await page.fill('#f-password', OWNER.password);
    await page.click('button[type=submit]');
    await page.waitForURL(`${url}/admin/users`); // back where the sign-in started
    await page.goto(`${url}/admin`);
    await page.waitForSelector('[data-testid=users-total]');

    const shown = async (id: string) =>
      Number((await page.textContent(`[data-testid=${id}]`))!.replace(/\D/g, ''));
    const midnight = new Date(new Date().toISOString().slice(0, 10));
    expect(await shown('users-total')).toBe(await count(sql`select count(*) as n from users`));
    expect(await shown('users-new-today')).toBe(
      await count(sql`select count(*) as n from users where created_at >= ${midnight}`),
    );
    expect(await shown('users-new-7d')).toBe(
      await count(sql`select count(*) as n from users where created_at >= now() - interval '7 days'`),
    );
    expect(await shown('users-new-30d')).toBe(
      await count(sql`select count(*) as n from users where created_at >= now() - interval '30 days'`),
    );
    expect(await shown('dau')).toBe(
      await count(sql`select count(*) as n from users where last_active_at >= now() - interval '1 day'`),
    );
    expect(await shown('wau')).toBe(
      await count(sql`select count(*) as n from users where last_active_at >= now() - interval '7 days'`),
    );
    expect(await shown('mau')).toBe(
      await count(sql`select count(*) as n from users where last_active_at >= now() - interval '30 days'`),
    );
    expect(await shown('messages-today')).toBe(
      await count(sql`select count(*) as n from messages where role = 'user' and created_at >= ${midnight}`),
    );
    expect(await shown('users-blocked')).toBe(
      await count(sql`select count(*) as n from users where bot_blocked_at is not null`),
    );
    expect(await shown('plan-premium')).toBe(
      await count(sql`select count(*) as n from subscriptions where plan = 'premium'`),
    );
    expect(await page.textContent('[data-testid=health-db]')).toContain('ok');
    // No LLM in this test system: the operator sees it (users are told it is unavailable).
    expect(await page.textContent('[data-testid=health-llm]')).toContain('not configured');
    expect(await page.textContent('[data-testid=health-bot]')).toMatch(/polling\s+last update \w/);

    // The revenue card comes in by htmx, with Stars received in the last 30 days.
    await page.waitForSelector('#revenue [data-testid=stars-30d]');
    expect(await shown('stars-30d')).toBe(
      await count(
        sql`select coalesce(sum(amount), 0) as n from payments where created_at >= now() - interval '30 days'`,
      ),
    );

    // chart.js drew the four charts (a canvas gets a chart instance and real pixels).
    await page.waitForFunction(
      () =>
        document.querySelectorAll('canvas[data-chart]').length === 4 &&
        typeof (window as unknown as { Chart?: unknown }).Chart === 'function',
    );
    const drawn = await page.$$eval('canvas[data-chart]', (els) =>
      els.map((c) => (c as HTMLCanvasElement).width > 0),
    );
    expect(drawn).toEqual([true, true, true, true]);
    await screenshot(page, 'admin-dashboard');
  });

  it('bans a user from the UI and the bot refuses them; others are still served', async () => {
    await page.goto(`${url}/admin/users`);
    await page.fill('#f-q', 'spammer');
    await page.waitForFunction(
      () => document.querySelectorAll('#user-results tr[data-user-id]').length === 1,
    );
    await screenshot(page, 'admin-users');
    await page.click(`tr[data-user-id="${SPAMMER.id}"] a`);
    await page.waitForURL(`${url}/admin/users/${SPAMMER.id}`);
    await page.fill('#f-reason', 'sends spam');
    await page.click('form[action$="/ban"] button');
    await page.waitForURL(/done=banned/);
    expect(await page.textContent('[data-testid=user-status]')).toContain('banned');
    await screenshot(page, 'admin-user');

    const before = (await emulator.botMessages(SPAMMER.id)).length;
    await emulator.injectMessage({ user: SPAMMER, text: 'hello again' });
    const refusal = await emulator.waitForBotMessage(SPAMMER.id, (m) => (m.text ?? '').includes(BANNED_TEXT));
    expect(refusal).toBeDefined();
    expect((await emulator.botMessages(SPAMMER.id)).length).toBe(before + 1);

    const ok = PEOPLE[0]!;
    const seen = (await emulator.botMessages(ok.id)).length;
    await emulator.injectMessage({ user: ok, text: '/status' });
    const answer = await emulator.waitFor(
      async () => (await emulator.botMessages(ok.id)).slice(seen)[0],
      'an answer to /status',
    );
    expect(answer.text).not.toContain(BANNED_TEXT);

    const audit = await app.db
      .selectFrom('admin_audit_log')
      .selectAll()
      .where('action', '=', 'user.ban')
      .executeTakeFirstOrThrow();
    expect(audit).toMatchObject({ admin_username: OWNER.username, target_id: String(SPAMMER.id) });
  });

  it('edits a setting: the error shows next to the field, a good value is saved and used', async () => {
    await page.goto(`${url}/admin/settings`);
    const card = page.locator('[data-setting="quota.period_hours"]');
    await card.locator('input[name=v]').fill('0');
    await card.locator('button[type=submit]', { hasText: 'Save' }).click();
    await page.locator('[data-setting="quota.period_hours"] .field.invalid .error').waitFor();
    expect(
      await page.locator('[data-setting="quota.period_hours"] .field.invalid .error').textContent(),
    ).toMatch(/>=\s*1|greater|too small/i);
    await screenshot(page, 'admin-settings-error');

    await page.locator('[data-setting="quota.period_hours"] input[name=v]').fill('12');
    await page
      .locator('[data-setting="quota.period_hours"] button[type=submit]', { hasText: 'Save' })
      .click();
    await page.locator('[data-setting="quota.period_hours"] .badge.ok').waitFor();
    expect(await app.settings.get('quota.period_hours')).toBe(12);
    await screenshot(page, 'admin-settings');
  });

  it('composes with a live preview, test-sends to the admin, starts a broadcast and everyone gets it', async () => {
    const me = PEOPLE[0]!;
    await page.goto(`${url}/admin/profile`);
    await page.fill('#f-telegramUserId', String(me.id));
    await page.click('form[action="/admin/profile"] button');
    await page.waitForURL(/done=saved/);
    await screenshot(page, 'admin-profile');

    await page.goto(`${url}/admin/broadcasts/new`);
    await page.fill('#f-text', '<b>Big news</b> for <i>everyone</i> &amp; more');
    await page.locator('#preview .tg-bubble b', { hasText: 'Big news' }).waitFor();
    const expected = await count(
      sql`select count(*) as n from users where banned_at is null and bot_blocked_at is null and notifications_enabled`,
    );
    await page.waitForFunction(
      (n) => document.querySelector('[data-testid=audience-count]')?.textContent === String(n),
      expected,
    );

    await page.fill('#f-text', '<b>Big news</b> for <i>everyone</i');
    await page.locator('#preview .notice.error').waitFor();
    expect(await page.textContent('#preview .notice.error')).toContain('text');
    await page.fill('#f-text', '<b>Big news</b> for <i>everyone</i> &amp; more');
    await page.locator('#preview .tg-bubble i', { hasText: 'everyone' }).waitFor();
    await screenshot(page, 'admin-broadcast-compose');

    const sentBefore = (await emulator.botMessages(me.id)).length;
    await page.click('button[formaction="/admin/broadcasts/test-send"]');
    await page.locator('#test-result .notice.ok').waitFor();
    await emulator.waitForBotMessage(me.id, (m) => (m.text ?? '').startsWith('Big news'));
    expect((await emulator.botMessages(me.id)).length).toBe(sentBefore + 1);

    // Starting asks first, naming how many people it reaches; saying no sends nothing.
    const question = `Start sending this broadcast to ${expected} recipients now? This cannot be undone.`;
    const broadcastsBefore = await count(sql`select count(*) as n from broadcasts`);
    answer = 'dismiss';
    await page.click('[data-testid=start-now]');
    await expect.poll(() => asked.at(-1)).toBe(question);
    expect(page.url()).toMatch(/\/admin\/broadcasts\/new$/);
    expect(await count(sql`select count(*) as n from broadcasts`)).toBe(broadcastsBefore);
    answer = 'accept';
    const askedBefore = asked.length;
    await page.click('[data-testid=start-now]');
    await page.waitForURL(/\/admin\/broadcasts\/\d+\?done=started/);
    expect(asked.slice(askedBefore)).toEqual([question]);
    await page.waitForFunction(
      (n) =>
        document.querySelector('[data-testid=progress-sent]')?.textContent === String(n) &&
        document.querySelector('#progress')?.getAttribute('data-status') === 'completed',
      expected,
      { timeout: 20_000 },
    );
    await screenshot(page, 'admin-broadcast');

    // Every registered person except the banned one got it in Telegram, with the formatting.
    for (const person of PEOPLE) {
      const got = (await emulator.botMessages(person.id)).filter(
        (m) => (m.text ?? '') === 'Big news for everyone & more',
      );
      expect(got.length, person.first_name).toBe(person.id === SPAMMER.id ? 0 : person.id === me.id ? 2 : 1);
      if (got[0]) expect(got[0].entities?.map((e) => e.type)).toEqual(['bold', 'italic']);
    }
    const id = Number(/broadcasts\/(\d+)/.exec(page.url())![1]);
    const deliveries = await count(
      sql`select count(*) as n from broadcast_deliveries where broadcast_id = ${id} and status = 'sent'`,
    );
    expect(deliveries).toBe(expected);

    await page.goto(`${url}/admin/broadcasts`);
    await page.locator(`tr[data-broadcast-id="${id}"]`).waitFor();
    await screenshot(page, 'admin-broadcasts');

    // A saved draft's own page asks the same before starting.
    await page.goto(`${url}/admin/broadcasts/new`);
    await page.fill('#f-text', 'A draft for later');
    await page.click('button[name=intent][value=draft]');
    await page.waitForURL(/\/admin\/broadcasts\/\d+\?done=created/);
    answer = 'dismiss';
    const draftAsked = asked.length;
    await page.click('form[action$="/start"] button');
    await expect.poll(() => asked.length).toBe(draftAsked + 1);
    expect(asked.at(-1)).toBe(question);
    expect(await page.getAttribute('#progress', 'data-status')).toBe('draft');
    answer = 'accept';
  });

  it('shows the audit log, queues and admins pages', async () => {
    await page.goto(`${url}/admin/audit`);
    const actions = await page.$$eval('tr[data-audit-id] code', (els) => els.map((e) => e.textContent));
    expect(actions).toEqual(
      expect.arrayContaining([
        'auth.login',
        'user.ban',
        'setting.update',
        'broadcast.create',
        'broadcast.start',
        'broadcast.test_send',
        'admin.telegram_id',
      ]),
    );
    await screenshot(page, 'admin-audit');
    await page.goto(`${url}/admin/queues`);
    expect(await page.textContent('main')).toContain('delivery');
    await screenshot(page, 'admin-queues');
    await page.goto(`${url}/admin/admins`);
    expect(await page.textContent('tr[data-admin=boss]')).toContain('owner');
    await screenshot(page, 'admin-admins');
  });

  it('works on a phone screen: no page scrolls sideways at 375 px', async () => {
    const phone = await browser.newPage({
      viewport: { width: 375, height: 812 },
      isMobile: true,
      hasTouch: true,
    });
    try {
      await signIn(phone);
      const broadcast = await app.db
        .selectFrom('broadcasts')
        .select('id')
        .orderBy('id', 'desc')
        .executeTakeFirstOrThrow();
      const pages = {
        dashboard: '/admin',
        users: '/admin/users',
        user: `/admin/users/${PEOPLE[0]!.id}`,
        settings: '/admin/settings',
        broadcasts: '/admin/broadcasts',
        'broadcast-new': '/admin/broadcasts/new',
        broadcast: `/admin/broadcasts/${broadcast.id}`,
        audit: '/admin/audit',
        queues: '/admin/queues',
        admins: '/admin/admins',
        profile: '/admin/profile',
      };
      for (const [name, path] of Object.entries(pages)) {
        await phone.goto(`${url}${path}`);
        await phone.waitForLoadState('networkidle');
        const overflow = await phone.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
        expect(overflow, name).toBeLessThanOrEqual(1);
        await screenshot(phone, `admin-phone-${name}`);
      }
    } finally {
      await phone.close();
    }
  });
});
