import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Update, WebhookInfo } from 'grammy/types';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { type BotApiEmulator, createBotApiEmulator } from '../../src/dev/bot-api-emulator/index.js';

interface Received {
  update: Update;
  headers: IncomingHttpHeaders;
}

/** A webhook endpoint whose answers the test scripts: each request takes the next status (200 after). */
class Endpoint {
  readonly received: Received[] = [];
  statuses: number[] = [];
  replyBody: string | undefined;
  private server: Server;
  url = '';

  constructor() {
    this.server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const status = this.statuses.shift() ?? 200;
        this.received.push({
          update: JSON.parse(Buffer.concat(chunks).toString()) as Update,
          headers: req.headers,
        });
        res.writeHead(status, { 'content-type': 'application/json' });
        res.end(status === 200 ? (this.replyBody ?? '') : '{"error":"boom"}');
      });
    });
  }

  async start(): Promise<void> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}/telegram/webhook`;
  }

  close(): Promise<void> {
    return new Promise((resolve) => this.server.close(() => resolve()));
  }
}

/** A URL where nothing listens: a port that was free a moment ago. */
async function deadUrl(): Promise<string> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return `http://127.0.0.1:${port}/nowhere`;
}

const USER = { id: 2002, first_name: 'Web' };
let emu: BotApiEmulator;
let endpoint: Endpoint;

async function call<T>(method: string, params: Record<string, unknown> = {}) {
  const res = await fetch(`${emu.url}/bot${emu.token}/${method}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(params),
  });
  return { status: res.status, body: (await res.json()) as { ok: boolean; result: T; description?: string } };
}

beforeAll(async () => {
  // Fast retries so a failing endpoint is retried within the test.
  emu = await createBotApiEmulator({ webhookRetry: { initialMs: 20, maxMs: 100, timeoutMs: 5_000 } });
  endpoint = new Endpoint();
  await endpoint.start();
});
afterAll(async () => {
  await emu.close();
  await endpoint.close();
});
afterEach(async () => {
  await call('deleteWebhook', { drop_pending_updates: true });
  await emu.client.reset();
  endpoint.received.length = 0;
  endpoint.statuses = [];
  endpoint.replyBody = undefined;
});

describe('webhook delivery', () => {
  it('POSTs updates in order with the secret token header', async () => {
    const set = await call<boolean>('setWebhook', { url: endpoint.url, secret_token: 'my-secret_1' });
    expect(set.body).toEqual({ ok: true, result: true, description: 'Webhook was set' });

    const updates: Update[] = [];
    for (const text of ['one', 'two', 'three'])
      updates.push(await emu.client.injectMessage({ user: USER, text }));
    await emu.client.waitForDelivery();

    expect(endpoint.received.map((r) => r.update)).toEqual(updates);
    expect(
      endpoint.received.every((r) => r.headers['x-telegram-bot-api-secret-token'] === 'my-secret_1'),
    ).toBe(true);
    expect(endpoint.received[0]?.headers['content-type']).toBe('application/json');
    const info = await call<WebhookInfo>('getWebhookInfo');
    expect(info.body.result).toMatchObject({
      url: endpoint.url,
      pending_update_count: 0,
      max_connections: 40,
    });
    expect(info.body.result.last_error_date).toBeUndefined();
  });

  it('retries a failing endpoint with backoff and reports the error', async () => {
    await call('setWebhook', { url: endpoint.url });
    endpoint.statuses = [500, 502];
    const update = await emu.client.injectMessage({ user: USER, text: 'retry me' });
    await emu.client.waitForDelivery();

    expect(endpoint.received.map((r) => r.update.update_id)).toEqual([
      update.update_id,
      update.update_id,
      update.update_id,
    ]);
    expect(endpoint.received[0]?.headers['x-telegram-bot-api-secret-token']).toBeUndefined();
    const info = (await call<WebhookInfo>('getWebhookInfo')).body.result;
    expect(info.pending_update_count).toBe(0);
    expect(info.last_error_message).toBe('Wrong response from the webhook: 502 Bad Gateway');
    expect(typeof info.last_error_date).toBe('number');
  });

  it('keeps updates pending while the endpoint is down and counts them', async () => {
    await call('setWebhook', { url: await deadUrl() });
    await emu.client.injectMessage({ user: USER, text: 'a' });
    await emu.client.injectMessage({ user: USER, text: 'b' });
    await expect
      .poll(async () => (await call<WebhookInfo>('getWebhookInfo')).body.result.last_error_message)
      .toBe('Connection refused');
    expect((await call<WebhookInfo>('getWebhookInfo')).body.result.pending_update_count).toBe(2);

    // Pointing the webhook somewhere that works delivers the backlog in order.
    await call('setWebhook', { url: endpoint.url });
    await emu.client.waitForDelivery();
    expect(endpoint.received.map((r) => (r.update.message as { text: string }).text)).toEqual(['a', 'b']);
  });

  it('refuses getUpdates while a webhook is set and drops pending updates on request', async () => {
    await call('setWebhook', { url: await deadUrl() });
    const conflict = await call('getUpdates');
    expect(conflict).toEqual({
      status: 409,
      body: {
        ok: false,
        error_code: 409,
        description:
          "Conflict: can't use getUpdates method while webhook is active; use deleteWebhook to delete the webhook first",
      },
    });
    await emu.client.injectMessage({ user: USER, text: 'lost' });
    const deleted = await call('deleteWebhook', { drop_pending_updates: true });
    expect(deleted.body).toEqual({ ok: true, result: true, description: 'Webhook was deleted' });
    expect((await call<WebhookInfo>('getWebhookInfo')).body.result).toEqual({
      url: '',
      has_custom_certificate: false,
      pending_update_count: 0,
    });
    expect((await call<Update[]>('getUpdates')).body.result).toEqual([]);
  });

  it('rejects a bad secret token', async () => {
    const bad = await call('setWebhook', { url: endpoint.url, secret_token: 'spaces are bad' });
    expect(bad.body).toMatchObject({
      ok: false,
      description: 'Bad Request: secret token contains unallowed characters',
    });
  });

  it('runs a method the endpoint answers with (webhook reply)', async () => {
    await call('setWebhook', { url: endpoint.url });
    endpoint.replyBody = JSON.stringify({
      method: 'sendMessage',
      chat_id: USER.id,
      text: 'from the webhook reply',
    });
    await emu.client.injectMessage({ user: USER, text: 'hi' });
    const message = await emu.client.waitForBotMessage(USER.id);
    expect(message.text).toBe('from the webhook reply');
  });
});
