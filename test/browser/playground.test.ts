import { existsSync } from 'node:fs';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { App } from '../../src/app.js';
import { startRole } from '../../src/cli/roles.js';
import { loadConfig } from '../../src/config.js';
import { startFakeComfy } from '../../src/dev/fake-comfyui/index.js';
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
  let comfy: Awaited<ReturnType<typeof startFakeComfy>>;
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
      COMFYUI_URLS: `${comfy.url};name=fake`,
      CHAT_STREAM_INTERVAL_MS: '100',
    });
    const started = await startRole('all', config);
    app = started.app;
    url = started.url;
  }

  /** The playground in a phone-sized page as `user` (it keeps the user in localStorage), connected. */
  async function openAs(user: { id: number; first_name: string; username?: string; language_code: string }) {
    const page = await browser.newPage({ viewport: { width: 420, height: 860 } });
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(e.message));
    await page.addInitScript((u) => localStorage.setItem('vitte-playground-user', JSON.stringify(u)), user);
    await page.goto(`${url}/playground`);
    await page.waitForSelector('body[data-connected="true"]');
    return { page, errors };
  }

  beforeAll(async () => {
    browser = await launchBrowser();
    llm = await createFakeLlm();
    comfy = await startFakeComfy({ host: '127.0.0.1', port: 0, stepMs: 20 });
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
    await comfy?.close();
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
    const { page, errors } = await openAs({
      id: 424243,
      first_name: 'Buyer',
      username: 'buyer',
      language_code: 'en',
    });
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

  it('sends a text longer than a message as several, split where a Telegram client splits it', async () => {
    const { page } = await openAs({ id: 434343, first_name: 'Writer', language_code: 'en' });
    const paragraph = (i: number) => `Paragraph ${i}: ${'lorem ipsum '.repeat(150).trim()}.`;
    const text = Array.from({ length: 10 }, (_, i) => paragraph(i)).join('\n\n');
    expect(text.length).toBeGreaterThan(2 * 4096);
    llm.enqueue({ text: 'That was long.' });
    await page.fill('[data-testid="message-input"]', text);
    await page.keyboard.press('Enter');
    // Ten paragraphs of about 1,800 characters: two fit in a message, so five messages.
    const mine = page.locator('[data-testid="user-message"]');
    await page.waitForFunction(() => document.querySelectorAll('[data-testid="user-message"]').length === 5);
    expect((await mine.first().textContent())?.startsWith('Paragraph 0:')).toBe(true);
    // What the bot received, as stored with the dialog.
    const received = () =>
      app!.db
        .selectFrom('messages')
        .innerJoin('dialogs', 'dialogs.id', 'messages.dialog_id')
        .select('messages.content')
        .where('dialogs.user_id', '=', 434343)
        .where('messages.role', '=', 'user')
        .orderBy('messages.id')
        .execute();
    await expect.poll(async () => (await received()).length).toBe(5);
    const sentParts = (await received()).map((m) => m.content);
    expect(sentParts).toHaveLength(5);
    for (const part of sentParts) expect(part.length).toBeLessThanOrEqual(4096);
    // Cut between paragraphs, nothing lost.
    expect(sentParts.join('\n\n')).toBe(text);
    await page.locator('[data-testid="bot-message"]', { hasText: 'That was long.' }).waitFor();
    await screenshot(page, 'playground-long-message');
    await page.close();
  }, 60_000);

  it('keeps following the chat when a picture arrives: its caption and buttons end in view', async () => {
    const { page } = await openAs({ id: 444444, first_name: 'Painter', language_code: 'en' });
    // Enough of a conversation that the list scrolls.
    for (const n of [1, 2, 3]) {
      llm.enqueue({ text: `Answer ${n}. ${'Some words to fill the screen. '.repeat(12)}` });
      await page.fill('[data-testid="message-input"]', `Question ${n}`);
      await page.keyboard.press('Enter');
      await page.locator('[data-testid="bot-message"]', { hasText: `Answer ${n}.` }).waitFor();
    }
    await page.fill('[data-testid="message-input"]', '/image a red fox in the snow');
    await page.keyboard.press('Enter');
    const picture = page.locator('[data-testid="bot-message"]', { hasText: '↻ Again' });
    await picture.waitFor({ timeout: 30_000 });
    await page.waitForFunction(() =>
      Array.from(document.querySelectorAll('img.photo')).every((img) => (img as HTMLImageElement).complete),
    );
    // The view settles on the newest message: the picture's buttons are on screen.
    await expect
      .poll(() =>
        page.evaluate(() => {
          const list = document.querySelector('[data-testid="message-list"]')!;
          return Math.round(list.scrollHeight - list.scrollTop - list.clientHeight);
        }),
      )
      .toBeLessThanOrEqual(2);
    await screenshot(page, 'playground-picture');
    await page.close();
  }, 60_000);
});
