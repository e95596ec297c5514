import type { FastifyInstance } from 'fastify';
import { Bot, InputFile } from 'grammy';
import { type Browser, chromium } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type BotApiEmulator, createBotApiEmulator } from '../../src/dev/bot-api-emulator/index.js';
import { registerPlayground } from '../../src/dev/playground/index.js';
import { createHttpServer } from '../../src/platform/http.js';
import { Metrics } from '../../src/platform/metrics.js';
import { silentLogger } from '../helpers/db.js';
import { CHROMIUM_PATH, has } from '../helpers/services.js';

const PNG = Buffer.from(
  'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==',
  'base64',
);

let emu: BotApiEmulator;
let server: FastifyInstance;
let base: string;
let bot: Bot;
let botRunning: Promise<void>;
/** The last charge per chat, so /refund can give it back. */
const charges = new Map<number, string>();

async function startServer(emulatorUrl: string): Promise<FastifyInstance> {
  const s = createHttpServer({
    logger: silentLogger,
    metrics: new Metrics({ defaultMetrics: false }),
    trustProxy: false,
  });
  await s.register(registerPlayground, { emulatorUrl });
  await s.listen({ port: 0, host: '127.0.0.1' });
  return s;
}

function post(path: string, body: unknown): Promise<Response> {
  return fetch(`${base}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
}

beforeAll(async () => {
  emu = await createBotApiEmulator({ botName: 'Play Bot' });
  server = await startServer(emu.url);
  const address = server.server.address();
  base = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;

  // A tiny bot so the page has someone to talk to.
  bot = new Bot(emu.token, { client: { apiRoot: emu.url } });
  bot.command('start', (ctx) =>
    ctx.reply('<b>Welcome</b> to <i>the playground</i>', {
      parse_mode: 'HTML',
      reply_markup: { inline_keyboard: [[{ text: 'Press', callback_data: 'press' }]] },
    }),
  );
  bot.command('buy', (ctx) =>
    ctx.replyWithInvoice('Premium', '30 days', 'premium', 'XTR', [{ label: 'Premium', amount: 50 }]),
  );
  bot.command('soldout', (ctx) =>
    ctx.replyWithInvoice('Last one', 'Gone already', 'sold-out', 'XTR', [{ label: 'Item', amount: 5 }]),
  );
  bot.command('subscribe', async (ctx) => {
    const link = await ctx.api.createInvoiceLink(
      'Monthly',
      'Premium every month',
      'sub',
      '',
      'XTR',
      [{ label: 'Monthly', amount: 250 }],
      { subscription_period: 2592000 },
    );
    await ctx.reply('Subscribe here', {
      reply_markup: { inline_keyboard: [[{ text: 'Subscribe', url: link }]] },
    });
  });
  bot.command('refund', async (ctx) => {
    const chargeId = charges.get(ctx.chat.id);
    if (chargeId) await ctx.api.refundStarPayment(ctx.chat.id, chargeId);
  });
  bot.command('photo', (ctx) => ctx.replyWithPhoto(new InputFile(PNG, 'dot.png'), { caption: 'dot' }));
  bot.command('xss', (ctx) =>
    ctx.reply('&lt;img src=x onerror="window.pwned=1"&gt; <a href="javascript:alert(1)">link</a>', {
      parse_mode: 'HTML',
    }),
  );
  bot.on('callback_query:data', async (ctx) => {
    await ctx.answerCallbackQuery({ text: 'Pressed!' });
    await ctx.editMessageText('Pressed ✅');
  });
  bot.on('pre_checkout_query', (ctx) =>
    ctx.preCheckoutQuery.invoice_payload === 'sold-out'
      ? ctx.answerPreCheckoutQuery(false, { error_message: 'Sorry, sold out' })
      : ctx.answerPreCheckoutQuery(true),
  );
  bot.on('message:successful_payment', (ctx) => {
    charges.set(ctx.chat.id, ctx.message.successful_payment.telegram_payment_charge_id);
    return ctx.reply('Thanks!');
  });
  bot.on('message:text', async (ctx) => {
    await ctx.api.raw.sendMessageDraft({ chat_id: ctx.chat.id, draft_id: 1, text: 'thinking about it' });
    await ctx.reply(`You said: ${ctx.message.text}`);
  });
  botRunning = bot.start({ timeout: 5 });
});

afterAll(async () => {
  await bot.stop();
  await botRunning;
  await server.close();
  await emu.close();
});

describe('playground server', () => {
  it('serves the page and its assets under a strict CSP', async () => {
    const res = await fetch(`${base}/playground`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/html/);
    expect(res.headers.get('content-security-policy')).toMatch(/default-src 'self'/);
    const html = await res.text();
    expect(html).toContain('data-testid="message-input"');
    expect(html).not.toMatch(/<script>(?!<\/script>)/);

    for (const [asset, type] of [
      ['app.js', /javascript/],
      ['render.js', /javascript/],
      ['app.css', /text\/css/],
    ] as const) {
      const a = await fetch(`${base}/playground/assets/${asset}`);
      expect(a.status).toBe(200);
      expect(a.headers.get('content-type')).toMatch(type);
    }
    expect((await fetch(`${base}/playground/assets/../../package.json`)).status).toBe(404);
  });

  it('injects messages as the chosen user and validates input', async () => {
    const user = { id: 7001, first_name: 'Pia', language_code: 'ru' };
    const res = await post('/playground/api/messages', { user, text: 'hi from the page' });
    expect(res.status).toBe(200);
    const update = (await res.json()) as { message: { text: string; from: { language_code: string } } };
    expect(update.message).toMatchObject({
      text: 'hi from the page',
      from: { id: 7001, language_code: 'ru' },
    });

    await emu.client.waitForBotMessage(7001, (m) => m.text === 'You said: hi from the page');
    const chat = (await (await fetch(`${base}/playground/api/chats/7001`)).json()) as {
      messages: { outgoing: boolean; text: string }[];
    };
    expect(chat.messages.map((m) => [m.outgoing, m.text])).toEqual([
      [false, 'hi from the page'],
      [true, 'You said: hi from the page'],
    ]);

    expect(
      (await post('/playground/api/messages', { user: { id: -1, first_name: 'x' }, text: 'x' })).status,
    ).toBe(400);
    expect((await post('/playground/api/messages', { user, text: '' })).status).toBe(400);
    expect(
      (await post('/playground/api/callback', { user, message_id: 1, data: 'x'.repeat(65) })).status,
    ).toBe(400);
    const unknownChat = (await (await fetch(`${base}/playground/api/chats/9999999`)).json()) as {
      messages: unknown[];
    };
    expect(unknownChat.messages).toEqual([]);
  });

  it('proxies the live event stream of one chat', async () => {
    const abort = new AbortController();
    const res = await fetch(`${base}/playground/api/events?chat_id=7002`, { signal: abort.signal });
    expect(res.headers.get('content-type')).toMatch(/^text\/event-stream/);
    const reader = res.body!.getReader();
    const decoder = new TextDecoder();
    let text = '';
    await post('/playground/api/messages', { user: { id: 7002, first_name: 'Sam' }, text: 'stream please' });
    while (!text.includes('"type":"message"')) {
      const { value, done } = await reader.read();
      if (done) break;
      text += decoder.decode(value, { stream: true });
    }
    abort.abort();
    expect(text).toContain('"type":"update"');
    expect(text).toContain('"type":"draft"');
    expect(text).toContain('You said: stream please');
  });

  it('pays an invoice the way Telegram does and serves photos', async () => {
    const user = { id: 7003, first_name: 'Payer' };
    await post('/playground/api/messages', { user, text: '/buy' });
    const invoice = await emu.client.waitForBotMessage(7003, (m) => m.invoice !== undefined);
    const paid = await post('/playground/api/pay', { user, message_id: invoice.message_id });
    expect(await paid.json()).toEqual({ ok: true });
    await emu.client.waitForBotMessage(7003, (m) => m.text === 'Thanks!');
    expect(await emu.client.payments()).toMatchObject([
      { user_id: 7003, total_amount: 50, invoice_payload: 'premium' },
    ]);

    await post('/playground/api/messages', { user, text: '/photo' });
    const photo = await emu.client.waitForBotMessage(7003, (m) => m.photo !== undefined);
    const file = await fetch(`${base}/playground/api/files/${photo.photo?.at(-1)?.file_id}`);
    expect(file.headers.get('content-type')).toBe('image/png');
    expect(Buffer.from(await file.arrayBuffer())).toEqual(PNG);
    expect((await fetch(`${base}/playground/api/files/nope`)).status).toBe(404);
  });

  it('pays a subscription link, and passes on the bot refusal text', async () => {
    const user = { id: 7004, first_name: 'Subscriber' };
    await post('/playground/api/messages', { user, text: '/subscribe' });
    const offer = await emu.client.waitForBotMessage(7004, (m) => m.reply_markup !== undefined);
    const link = offer.reply_markup?.inline_keyboard[0]?.[0] as { url: string };
    const invoice = await fetch(`${base}/playground/api/invoice?link=${encodeURIComponent(link.url)}`);
    expect(await invoice.json()).toEqual({
      title: 'Monthly',
      description: 'Premium every month',
      currency: 'XTR',
      total_amount: 250,
      subscription_period: 2592000,
    });
    const paid = await post('/playground/api/pay', { user, invoice_link: link.url });
    expect(await paid.json()).toEqual({ ok: true });
    const [payment] = await emu.client.payments(7004);
    expect(payment).toMatchObject({ total_amount: 250, is_recurring: true, is_first_recurring: true });
    expect(payment?.subscription_id).toBe(payment?.telegram_payment_charge_id);

    await post('/playground/api/messages', { user, text: '/soldout' });
    const soldOut = await emu.client.waitForBotMessage(7004, (m) => m.invoice?.title === 'Last one');
    const refused = await post('/playground/api/pay', { user, message_id: soldOut.message_id });
    expect(await refused.json()).toEqual({ ok: false, error_message: 'Sorry, sold out' });
    expect(await emu.client.payments(7004)).toHaveLength(1);

    expect(
      (await post('/playground/api/pay', { user, invoice_link: 'https://evil.example/$x' })).status,
    ).toBe(400);
    expect((await fetch(`${base}/playground/api/invoice?link=https%3A%2F%2Ft.me%2F%24nope`)).status).toBe(
      404,
    );
  });

  it('answers 502 when the emulator is gone', async () => {
    const orphan = await startServer('http://127.0.0.1:1');
    try {
      const address = orphan.server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      const res = await fetch(`http://127.0.0.1:${port}/playground/api/info`);
      expect(res.status).toBe(502);
      expect(((await res.json()) as { error: { code: string } }).error.code).toBe('emulator_unreachable');
    } finally {
      await orphan.close();
    }
  });
});

describe.skipIf(!has('chromium'))('playground in Chromium', () => {
  let browser: Browser;
  beforeAll(async () => {
    browser = await chromium.launch({
      executablePath: CHROMIUM_PATH,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'],
    });
  });
  afterAll(async () => {
    await browser?.close();
  });

  it('chats with the bot: commands, formatted replies, inline buttons, edits, no script injection', async () => {
    const page = await browser.newPage({ viewport: { width: 390, height: 760 } });
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(e.message));
    await page.addInitScript(() => {
      localStorage.setItem(
        'vitte-playground-user',
        JSON.stringify({ id: 7100, first_name: 'Browser', username: '', language_code: 'en' }),
      );
    });
    await page.goto(`${base}/playground`);
    await page.waitForSelector('body[data-connected="true"]');
    expect(await page.textContent('[data-testid="bot-name"]')).toBe('Play Bot');

    await page.fill('[data-testid="message-input"]', '/start');
    await page.click('[data-testid="send-button"]');
    const welcome = page.locator('[data-testid="bot-message"]').first();
    await welcome.waitFor();
    expect(await welcome.locator('strong').textContent()).toBe('Welcome');
    expect(await welcome.locator('em').textContent()).toBe('the playground');
    expect(await page.locator('[data-testid="user-message"]').count()).toBe(1);

    await page.click('[data-testid="inline-button"]');
    await page.waitForSelector('[data-testid="bot-message"] [data-testid="edited-mark"]');
    expect(await welcome.locator('[data-testid="message-text"]').textContent()).toBe('Pressed ✅');
    await page.waitForSelector('[data-testid="callback-toast"]:has-text("Pressed!")');

    await page.fill('[data-testid="message-input"]', '/xss');
    await page.keyboard.press('Enter');
    const xss = page.locator('[data-testid="bot-message"]', { hasText: 'onerror' });
    await xss.waitFor();
    expect(await xss.locator('img').count()).toBe(0);
    expect(await xss.locator('a[href^="javascript"]').count()).toBe(0);
    expect(await page.evaluate(() => (window as unknown as { pwned?: number }).pwned)).toBeUndefined();
    expect(errors).toEqual([]);
    await page.close();
  });

  it('pays from an invoice link button, shows the refusal text and the payment and refund lines', async () => {
    const page = await browser.newPage({ viewport: { width: 390, height: 760 } });
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(e.message));
    await page.addInitScript(() => {
      localStorage.setItem(
        'vitte-playground-user',
        JSON.stringify({ id: 7101, first_name: 'Payer', username: '', language_code: 'en' }),
      );
    });
    await page.goto(`${base}/playground`);
    await page.waitForSelector('body[data-connected="true"]');

    await page.fill('[data-testid="message-input"]', '/subscribe');
    await page.click('[data-testid="send-button"]');
    await page.click('[data-testid="inline-button"][data-invoice-link]');
    await page.waitForSelector('[data-testid="pay-dialog"]:not([hidden])');
    expect(await page.textContent('[data-testid="pay-title"]')).toBe('Monthly');
    expect(await page.textContent('[data-testid="pay-amount"]')).toBe('⭐ 250 / month');
    await page.click('[data-testid="pay-confirm"]');
    await page.waitForSelector('[data-testid="pay-dialog"][hidden]', { state: 'attached' });
    const paid = page.locator('[data-testid="service-message"][data-kind="successful_payment"]');
    await paid.waitFor();
    expect(await paid.textContent()).toMatch(/^You subscribed for ⭐ 250 a month until /);

    await page.fill('[data-testid="message-input"]', '/soldout');
    await page.click('[data-testid="send-button"]');
    await page.click('[data-testid="invoice"] [data-testid="pay-button"]');
    await page.click('[data-testid="pay-confirm"]');
    await page.waitForSelector('[data-testid="pay-error"]:has-text("Sorry, sold out")');
    await page.click('[data-testid="pay-cancel"]');
    await page.waitForSelector('[data-testid="pay-dialog"][hidden]', { state: 'attached' });

    await page.fill('[data-testid="message-input"]', '/refund');
    await page.click('[data-testid="send-button"]');
    const refunded = page.locator('[data-testid="service-message"][data-kind="refunded_payment"]');
    await refunded.waitFor();
    expect(await refunded.textContent()).toBe('⭐ 250 refunded');
    expect(errors).toEqual([]);
    await page.close();
  });
});
