import { networkInterfaces } from 'node:os';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { App } from '../../src/app.js';
import { startRole } from '../../src/cli/roles.js';
import { loadConfig } from '../../src/config.js';
import { migrateUp } from '../../src/platform/db/migrator.js';
import { launchBrowser, screenshot } from '../helpers/browser.js';
import { createTestDatabase, silentLogger, type TestDatabase } from '../helpers/db.js';
import { has } from '../helpers/services.js';

const OWNER = { username: 'lan-owner', password: 'lan-owner-password-1' };

/** An address of this machine that is not loopback (as a LAN address), else another loopback one. */
function machineAddress(): string {
  for (const list of Object.values(networkInterfaces())) {
    const v4 = list?.find((a) => a.family === 'IPv4' && !a.internal);
    if (v4) return v4.address;
  }
  return '127.0.0.2';
}

/**
 * HOST=0.0.0.0 opened as http://<the machine's address>:<port>: no TLS anywhere. The pages must load
 * their styles and scripts over plain HTTP (a CSP upgrade-insecure-requests would send the browser
 * to https:// for each of them, and nothing answers there).
 */
describe.skipIf(!has('chromium'))('admin panel and playground over plain HTTP by IP address', () => {
  let browser: Browser;
  let testDb: TestDatabase;
  let app: App;
  let base = '';

  /** Stylesheets the page could read (a blocked one has no rules) and the requests that failed. */
  async function open(page: Page, path: string): Promise<{ rules: number; failed: string[] }> {
    const failed: string[] = [];
    page.on('requestfailed', (r) => failed.push(`${r.url()} ${r.failure()?.errorText}`));
    await page.goto(`${base}${path}`, { waitUntil: 'load' });
    const rules = await page.evaluate(() =>
      Array.from(document.styleSheets).reduce((n, s) => {
        try {
          return n + (s.href ? s.cssRules.length : 0);
        } catch {
          return n; // a sheet that never loaded (or came from elsewhere) has no readable rules
        }
      }, 0),
    );
    return { rules, failed };
  }

  beforeAll(async () => {
    browser = await launchBrowser();
    testDb = await createTestDatabase('plain_http');
    if (testDb.url) {
      const db = testDb.open();
      await migrateUp(db.db, silentLogger);
      await db.close();
    }
    const started = await startRole(
      'all',
      loadConfig({
        // As `npm start` runs: development, no LLM configured (and no local one looked for here).
        NODE_ENV: 'development',
        LOG_LEVEL: 'silent',
        HOST: '0.0.0.0',
        API_PORT: '0',
        EMULATOR_PORT: '0',
        DATA_DIR: testDb.dataDir,
        ...(testDb.url ? { DATABASE_URL: testDb.url } : {}),
        ADMIN_BOOTSTRAP_USERNAME: OWNER.username,
        ADMIN_BOOTSTRAP_PASSWORD: OWNER.password,
        CHAT_STREAM_INTERVAL_MS: '200',
      }),
      { localLlms: [] },
    );
    app = started.app;
    base = `http://${machineAddress()}:${new URL(started.url).port}`;
  }, 90_000);

  afterAll(async () => {
    await browser?.close();
    await app?.close();
    await testDb?.drop();
  });

  it('the sign-in page and the dashboard load their CSS and scripts; signing in works', async () => {
    const page = await browser.newPage();
    const login = await open(page, '/admin/login');
    expect(login.failed).toEqual([]);
    expect(login.rules).toBeGreaterThan(20);
    // admin.css gives the page its font; without it the browser default (serif) shows.
    expect(await page.evaluate(() => getComputedStyle(document.body).fontFamily)).not.toMatch(
      /^serif$|Times/,
    );
    await screenshot(page, 'plain-http-login');
    await page.fill('#f-username', OWNER.username);
    await page.fill('#f-password', OWNER.password);
    await page.click('button[type=submit]');
    await page.waitForURL(`${base}/admin`);
    await page.waitForFunction(() => typeof (window as unknown as { htmx?: unknown }).htmx === 'object');
    await screenshot(page, 'plain-http-dashboard');
    await page.close();
  });

  it('the playground loads its CSS and connects; the demo model answers a first message', async () => {
    const page = await browser.newPage({ viewport: { width: 480, height: 1000 } });
    const playground = await open(page, '/playground');
    expect(playground.failed).toEqual([]);
    expect(playground.rules).toBeGreaterThan(10);
    await page.waitForSelector('body[data-connected="true"]');
    await screenshot(page, 'plain-http-playground');

    await page.fill('[data-testid="message-input"]', 'Hello! What can you do?');
    await page.keyboard.press('Enter');
    const answer = page.locator('[data-testid="bot-message"]', { hasText: 'To connect a real model' });
    await answer.waitFor({ timeout: 20_000 });
    expect(await answer.locator('strong').first().textContent()).toBe(
      "This is Vitte's demo model, not a real AI.",
    );
    expect(await answer.locator('blockquote').textContent()).toContain('Hello! What can you do?');
    await screenshot(page, 'playground-demo-answer');
    await page.close();
  });
});
