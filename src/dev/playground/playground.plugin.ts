import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { FastifyInstance, FastifyReply } from 'fastify';
import { findAssetsDir } from '../../platform/assets-dir.js';
import { NotFoundError } from '../../platform/errors.js';
import { sendError } from '../../platform/http.js';
import { EmulatorClient, EmulatorClientError } from '../bot-api-emulator/index.js';
import { body, readCallbackData, readPositiveInt, readText, readUser } from './playground-input.js';
import { registerPaymentRoutes } from './playground-payments.js';
import { proxy, sendUpstreamError } from './playground-proxy.js';

export interface PlaygroundOptions {
  /** Where the Bot API emulator listens, e.g. `http://127.0.0.1:8081`. */
  emulatorUrl: string;
}

const ASSETS: Record<string, string> = {
  'index.html': 'text/html; charset=utf-8',
  'app.js': 'text/javascript; charset=utf-8',
  'render.js': 'text/javascript; charset=utf-8',
  'chat-view.js': 'text/javascript; charset=utf-8',
  'app.css': 'text/css; charset=utf-8',
  'favicon.svg': 'image/svg+xml',
};

function loadAssets(): Map<string, Buffer> {
  const dir = findAssetsDir(
    'playground',
    'index.html',
    new URL('./assets/', import.meta.url),
    new URL('../../../src/dev/playground/assets/', import.meta.url),
  );
  return new Map(Object.keys(ASSETS).map((name) => [name, readFileSync(join(dir, name))]));
}

/**
 * The browser playground at `/playground`: a small chat page that talks to the bot through the
 * Bot API emulator. Static files plus a thin proxy (`/playground/api/…`) to the emulator's
 * control API, so the page needs nothing but its own origin (CSP `default-src 'self'`).
 */
export async function registerPlayground(app: FastifyInstance, opts: PlaygroundOptions): Promise<void> {
  const emulatorUrl = opts.emulatorUrl.replace(/\/+$/, '');
  const client = new EmulatorClient(emulatorUrl);
  const assets = loadAssets();

  const serve = (name: string) => async (_req: unknown, reply: FastifyReply) =>
    reply.type(ASSETS[name]!).header('cache-control', 'no-cache').send(assets.get(name));
  app.get('/playground', serve('index.html'));
  app.get('/playground/', serve('index.html'));
  for (const name of Object.keys(ASSETS)) app.get(`/playground/assets/${name}`, serve(name));

  app.get(
    '/playground/api/info',
    proxy(async () => {
      const info = await client.info();
      return { bot: { id: info.bot.id, first_name: info.bot.first_name, username: info.bot.username } };
    }),
  );

  app.get(
    '/playground/api/chats/:id',
    proxy(async (req) => {
      const chatId = readPositiveInt(req.params.id, 'id');
      try {
        return await client.conversation(chatId);
      } catch (err) {
        if (err instanceof EmulatorClientError && err.status === 404)
          return { chat: null, messages: [], drafts: [] };
        throw err;
      }
    }),
  );

  app.post(
    '/playground/api/messages',
    proxy(async (req) => {
      const b = body(req.body);
      const user = readUser(b.user);
      const updates = [];
      // In order, one after the other: the bot gets them as a client's split message arrives.
      for (const text of readText(b.text)) updates.push(await client.injectMessage({ user, text }));
      return { updates };
    }),
  );

  app.post(
    '/playground/api/callback',
    proxy(async (req) => {
      const b = body(req.body);
      return client.injectCallbackQuery({
        user: readUser(b.user),
        message_id: readPositiveInt(b.message_id, 'message_id'),
        data: readCallbackData(b.data),
      });
    }),
  );

  app.get(
    '/playground/api/commands',
    proxy(async (req) => {
      const lang = req.query.language_code === 'ru' ? 'ru' : 'en';
      const all = await client.commands();
      const pick = (type: string, language: string) =>
        all.find((c) => c.scope.type === type && c.language_code === language)?.commands;
      return (
        pick('all_private_chats', lang) ??
        pick('default', lang) ??
        pick('all_private_chats', '') ??
        pick('default', '') ??
        []
      );
    }),
  );

  app.get<{ Params: { fileId: string } }>('/playground/api/files/:fileId', async (req, reply) => {
    if (!/^[A-Za-z0-9_-]{1,128}$/.test(req.params.fileId)) throw new NotFoundError('file not found');
    let res: Response;
    try {
      res = await fetch(`${emulatorUrl}/_emulator/files/${req.params.fileId}`);
    } catch (err) {
      return sendUpstreamError(reply, err);
    }
    if (!res.ok) throw new NotFoundError('file not found');
    return reply
      .type(res.headers.get('content-type') ?? 'application/octet-stream')
      .header('cache-control', 'private, max-age=3600')
      .send(Buffer.from(await res.arrayBuffer()));
  });

  app.get<{ Querystring: { chat_id?: string } }>('/playground/api/events', async (req, reply) => {
    const chatId = readPositiveInt(req.query.chat_id, 'chat_id');
    const upstream = new AbortController();
    let res: Response;
    try {
      res = await fetch(`${emulatorUrl}/_emulator/events?chat_id=${chatId}`, { signal: upstream.signal });
    } catch (err) {
      return sendUpstreamError(reply, err);
    }
    if (!res.ok || !res.body)
      return sendError(reply, 502, 'emulator_error', 'The event stream is not available.');
    reply.hijack();
    const out = reply.raw;
    out.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-cache, no-transform',
      connection: 'keep-alive',
      'x-accel-buffering': 'no',
    });
    out.on('close', () => upstream.abort());
    const reader = res.body.getReader();
    try {
      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        out.write(value);
      }
    } catch {
      // The browser or the emulator went away; either way this stream is over.
    } finally {
      out.end();
    }
  });

  registerPaymentRoutes(app, client);
}
