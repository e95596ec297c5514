import { existsSync } from 'node:fs';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { App } from '../../src/app.js';
import { startRole } from '../../src/cli/roles.js';
import { loadConfig } from '../../src/config.js';
import { createFakeLlm } from '../../src/dev/fake-llm/index.js';
import { migrateUp } from '../../src/platform/db/migrator.js';
import { launchBrowser, screenshot } from '../helpers/browser.js';
import { createTestDatabase, silentLogger, type TestDatabase } from '../helpers/db.js';
import { has } from '../helpers/services.js';

/**
 * What a newcomer does in the first minute: `npm start` with no token, open /playground, talk to the
 * bot. Here with an OpenAI-compatible server configured, so the answer streams in, and with a restart
 * in the middle to show that history survives.
 */
describe.skipIf(!has('chromium'))('playground with the real bot in Chromium', () => {
  let browser: Browser;
  let testDb: TestDatabase;
  let llm: Awaited<ReturnType<typeof createFakeLlm>>;
  let app: App | undefined;
  let url = '';

  async function start(): Promise<void> {
    const config = loadConfig({
      NODE_ENV: 'test',
      LOG_LEVEL: 'silent',
      API_PORT: '0',
      EMULATOR_PORT: '0',
      DATA_DIR: testDb.dataDir,
      ...(testDb.url ? { DATABASE_URL: testDb.url } : {}),
      LLM_BASE_URL: llm.url,
      CHAT_STREAM_INTERVAL_MS: '100',
    });
    const started = await startRole('all', config);
    app = started.app;
    url = started.url;
  }

  beforeAll(async () => {
    browser = await launchBrowser();
    llm = await createFakeLlm();
    testDb = await createTestDatabase('playground');
    if (testDb.url) {
      const db = testDb.open();
      await migrateUp(db.db, silentLogger);
      await db.close();
    }
    await start();
  }, 60_000);

  afterAll(async () => {
    await browser?.close();
    await app?.close();
    await llm?.close();
    await testDb?.drop();
  });

  it('sends /start and sees the welcome, then chats with a streamed answer that survives a restart', async () => {
    const page = await browser.newPage({ viewport: { width: 420, height: 860 } });
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(e.message));
    await page.addInitScript(() => {
      localStorage.setItem(
        'vitte-playground-user',
        JSON.stringify({ id: 424242, first_name: 'Newcomer', username: 'newcomer', language_code: 'en' }),
      );
    });
    await page.goto(`${url}/playground`);
    await page.waitForSelector('body[data-connected="true"]');

    await page.fill('[data-testid="message-input"]', '/start');
    await page.click('[data-testid="send-button"]');
    const welcome = page.locator('[data-testid="bot-message"]', { hasText: 'Hi, Newcomer!' });
    await welcome.waitFor();
    expect(await welcome.locator('strong').first().textContent()).toBe('Vitte');
    await screenshot(page, 'playground-start');

    llm.enqueue({
      text: 'Cats are **wonderful** companions. They purr, nap and explore.',
      chunkSize: 4,
      chunkDelayMs: 120,
    });
    await page.fill('[data-testid="message-input"]', 'Tell me about cats');
    await page.keyboard.press('Enter');
    await page.waitForSelector('[data-testid="draft-message"]');
    await screenshot(page, 'playground-streaming');
    const answer = page.locator('[data-testid="bot-message"]', { hasText: 'Cats are wonderful companions' });
    await answer.waitFor();
    expect(await answer.locator('strong').textContent()).toBe('wonderful');
    expect(await page.locator('[data-testid="draft-message"]').count()).toBe(0);

    await page.fill('[data-testid="message-input"]', '/new Dogs');
    await page.keyboard.press('Enter');
    await page.locator('[data-testid="bot-message"]', { hasText: 'New dialog started' }).waitFor();

    // Restart the whole system on the same database: dialogs and history are still there.
    await app!.close();
    app = undefined;
    await start();
    await page.goto(`${url}/playground`);
    await page.waitForSelector('body[data-connected="true"]');
    await page.fill('[data-testid="message-input"]', '/dialogs');
    await page.keyboard.press('Enter');
    const list = page.locator('[data-testid="bot-message"]', { hasText: 'Your dialogs' });
    await list.waitFor();
    const cats = list.locator('[data-testid="inline-button"]', { hasText: 'Tell me about cats' });
    await cats.click();
    await page.waitForFunction(() => document.body.textContent?.includes('Switched to'));
    await screenshot(page, 'playground-dialogs');
    const dialog = (await app!.dialogs.active(424242))!;
    expect(dialog.title).toBe('Tell me about cats');
    const history = await app!.db
      .selectFrom('messages')
      .select(['role', 'content'])
      .where('dialog_id', '=', dialog.id)
      .orderBy('id')
      .execute();
    expect(history).toEqual([
      { role: 'user', content: 'Tell me about cats' },
      { role: 'assistant', content: 'Cats are **wonderful** companions. They purr, nap and explore.' },
    ]);
    expect(existsSync('test-artifacts/playground-start.png')).toBe(true);
    expect(errors).toEqual([]);
    await page.close();
  }, 90_000);

  it('buys a plan in Telegram Stars: /buy, a product, Pay, the thanks and the plan', async () => {
    const page = await browser.newPage({ viewport: { width: 420, height: 860 } });
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(e.message));
    await page.addInitScript(() => {
      localStorage.setItem(
        'vitte-playground-user',
        JSON.stringify({ id: 424243, first_name: 'Buyer', username: 'buyer', language_code: 'en' }),
      );
    });
    await page.goto(`${url}/playground`);
    await page.waitForSelector('body[data-connected="true"]');
    await page.fill('[data-testid="message-input"]', '/buy');
    await page.keyboard.press('Enter');
    const menu = page.locator('[data-testid="bot-message"]', { hasText: 'Upgrade' });
    await menu.locator('[data-testid="inline-button"]', { hasText: 'Pro · 7 days' }).click();
    const pay = page.locator('[data-testid="pay-button"]', { hasText: '229' });
    await pay.click();
    // The payment form, as Telegram shows it: the invoice's title and price, then Pay.
    expect(await page.textContent('[data-testid="pay-title"]')).toBe('Pro · 7 days');
    await page.click('[data-testid="pay-confirm"]');
    await page.locator('[data-testid="bot-message"]', { hasText: 'Thank you!' }).waitFor();
    await screenshot(page, 'playground-paid');
    expect((await app!.subscriptions.get(424243)).plan).toBe('pro');
    expect(errors).toEqual([]);
    await page.close();
  }, 60_000);
});
