import { randomBytes } from 'node:crypto';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { App } from '../../src/app.js';
import { startRole } from '../../src/cli/roles.js';
import { loadConfig } from '../../src/config.js';
import { migrateUp } from '../../src/platform/db/migrator.js';
import { bootstrapPasswordFor, chooseOwnerPassword } from '../helpers/admin.js';
import { launchBrowser, screenshot } from '../helpers/browser.js';
import { createTestDatabase, silentLogger, type TestDatabase } from '../helpers/db.js';
import { has, TEST_REDIS_URL } from '../helpers/services.js';

const OWNER = { username: 'queue-boss', password: 'queue-boss-password-1' };

/**
 * bull-board in Chromium: the `admin` role with BullMQ on the test Redis (a fresh prefix), behind
 * the panel's sign-in, loading nothing from outside the panel.
 */
describe.skipIf(!has('chromium') || !has('redis') || !has('postgres'))('bull-board in Chromium', () => {
  let browser: Browser;
  let testDb: TestDatabase;
  let app: App;
  let url = '';
  let page: Page;
  const problems: string[] = [];

  beforeAll(async () => {
    browser = await launchBrowser();
    testDb = await createTestDatabase('admin_queues_browser');
    const db = testDb.open();
    await migrateUp(db.db, silentLogger);
    await db.close();
    const config = loadConfig({
      NODE_ENV: 'test',
      LOG_LEVEL: 'silent',
      ADMIN_PORT: '0',
      DATA_DIR: testDb.dataDir,
      DATABASE_URL: testDb.url!,
      REDIS_URL: TEST_REDIS_URL,
      REDIS_PREFIX: `vitte-test-queues-${randomBytes(4).toString('hex')}`,
      ADMIN_BOOTSTRAP_USERNAME: OWNER.username,
      ADMIN_BOOTSTRAP_PASSWORD: bootstrapPasswordFor(OWNER.password),
    });
    const started = await startRole('admin', config);
    await chooseOwnerPassword(started.app, OWNER);
    app = started.app;
    url = started.url;

    page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    const origin = new URL(url).origin;
    page.on('console', (m) => {
      if (m.type() === 'error' || m.type() === 'warning') problems.push(`console ${m.type()}: ${m.text()}`);
    });
    page.on('pageerror', (err) => problems.push(`page error: ${err.message}`));
    page.on('request', (r) => {
      if (!r.url().startsWith(origin) && !r.url().startsWith('data:')) problems.push(`external: ${r.url()}`);
    });
    page.on('requestfailed', (r) => problems.push(`failed: ${r.url()} ${r.failure()?.errorText}`));
  }, 90_000);

  afterAll(async () => {
    await browser?.close();
    await app?.close();
    await testDb?.drop();
  });

  it('signs in, opens Queues and bull-board lists the real queues, loading nothing from outside', async () => {
    await page.goto(`${url}/admin/queues`);
    await page.waitForURL(/\/admin\/login\?next=/);
    await page.fill('#f-username', OWNER.username);
    await page.fill('#f-password', OWNER.password);
    await page.click('button[type=submit]');
    await page.waitForURL(`${url}/admin/queues`);

    const names = Object.keys(await app.queue.counts());
    expect(names).toContain('delivery');
    for (const name of names) {
      await page.getByRole('link', { name, exact: true }).first().waitFor();
    }
    await page.waitForLoadState('networkidle');
    await screenshot(page, 'admin-queues-bull-board');
    expect(problems).toEqual([]);
  });

  it("pauses and resumes a queue from bull-board's menu; each change is audited", async () => {
    // The card's own menu: the nearest ancestor of the card title that holds a menu button.
    const menuOf = (queue: string) =>
      page
        .getByText(queue, { exact: true })
        .last()
        .locator('xpath=ancestor::*[.//button[@aria-haspopup="menu"]][1]')
        .locator('button[aria-haspopup="menu"]');
    const choose = async (item: string) => {
      await menuOf('delivery').click();
      await page.getByRole('menuitem', { name: item, exact: true }).click();
      await page.getByRole('button', { name: 'Confirm', exact: true }).click();
    };
    await choose('Pause');
    await expect.poll(async () => (await app.queue.counts()).delivery!.paused).toBe(true);
    await page.getByText('[ Paused ]').first().waitFor();
    await page.getByText('Are you sure?').waitFor({ state: 'hidden' });
    await screenshot(page, 'admin-queues-paused');

    await choose('Resume');
    await expect.poll(async () => (await app.queue.counts()).delivery!.paused).toBe(false);

    const audit = await app.db
      .selectFrom('admin_audit_log')
      .select(['admin_username', 'action', 'target_id'])
      .where('action', 'like', 'queues.%')
      .orderBy('id')
      .execute();
    expect(audit).toEqual([
      { admin_username: OWNER.username, action: 'queues.pause', target_id: 'delivery' },
      { admin_username: OWNER.username, action: 'queues.resume', target_id: 'delivery' },
    ]);
    expect(problems).toEqual([]);
  });
});
