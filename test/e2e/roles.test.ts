import { createServer, type Server } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type BotApiEmulator, createBotApiEmulator } from '../../src/dev/bot-api-emulator/index.js';
import { migrateUp } from '../../src/platform/db/migrator.js';
import { createTestDatabase, silentLogger, type TestDatabase } from '../helpers/db.js';
import { startVitte } from '../helpers/process.js';
import { has } from '../helpers/services.js';

const SECRET = 'roles-webhook-secret-0123456789';

async function takePort(): Promise<{ port: number; server: Server }> {
  const server = createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { port: (server.address() as { port: number }).port, server };
}

/** The bot roles as real processes, as an operator runs them: `vitte bot` (polling) and `vitte api` (webhook). */
describe.skipIf(!has('postgres'))('vitte bot and vitte api against a Bot API server', () => {
  let emulator: BotApiEmulator;
  let testDb: TestDatabase;
  let env: Record<string, string>;

  beforeAll(async () => {
    emulator = await createBotApiEmulator({ logger: silentLogger });
    testDb = await createTestDatabase('roles');
    const db = testDb.open();
    await migrateUp(db.db, silentLogger);
    await db.close();
    env = {
      DATABASE_URL: testDb.url!,
      BOT_TOKEN: emulator.token,
      TELEGRAM_API_ROOT: emulator.url,
      API_PORT: '0',
      LOG_LEVEL: 'info',
    };
  });
  afterAll(async () => {
    await emulator?.close();
    await testDb?.drop();
  });

  it('vitte bot answers /start, /help, /status and /language by long polling', async () => {
    const bot = startVitte(['bot'], env);
    try {
      await bot.waitForLog((l) => l.msg === 'polling for updates', 60_000);
      const user = { id: 31_001, first_name: 'Polly', language_code: 'en' };
      for (const text of ['/start', '/help', '/status', '/language']) {
        await emulator.client.injectMessage({ user, text });
      }
      await emulator.client.waitFor(
        async () => ((await emulator.client.botMessages(user.id)).length === 4 ? true : undefined),
        'four answers',
        { timeoutMs: 20_000 },
      );
      const texts = (await emulator.client.botMessages(user.id)).map((m) => m.text?.split('\n')[0]);
      expect(texts).toEqual([
        'Hi, Polly! I am Vitte, an AI assistant.',
        'What I can do',
        'Your plan: Free',
        'Choose your language:',
      ]);
    } finally {
      expect((await bot.stop('SIGTERM')).code).toBe(0);
    }
  }, 90_000);

  it('vitte bot refuses webhook mode with a clear message', async () => {
    const bot = startVitte(['bot'], { ...env, BOT_MODE: 'webhook', WEBHOOK_SECRET: SECRET });
    expect((await bot.exited).code).toBe(1);
    expect(bot.output()).toContain('updates arrive at the api role');
  });

  it('vitte webhook set + vitte api answer the same commands by webhook', async () => {
    const webhookEnv = { ...env, BOT_MODE: 'webhook', WEBHOOK_SECRET: SECRET };
    const api = startVitte(['api'], webhookEnv);
    try {
      const line = await api.waitForLog((l) => l.msg === 'listening', 60_000);
      const set = startVitte(['webhook', 'set', '--drop-pending-updates'], {
        ...webhookEnv,
        WEBHOOK_URL: `${String(line.url)}/telegram/webhook`,
      });
      expect((await set.exited).code).toBe(0);
      const info = startVitte(['webhook', 'info'], webhookEnv);
      expect((await info.exited).code).toBe(0);
      expect(info.output()).toContain('/telegram/webhook');

      const user = { id: 31_002, first_name: 'Hook', language_code: 'ru' };
      await emulator.client.injectMessage({ user, text: '/start' });
      await emulator.client.injectMessage({ user, text: '/status' });
      await emulator.client.waitFor(
        async () => ((await emulator.client.botMessages(user.id)).length === 2 ? true : undefined),
        'two answers',
        { timeoutMs: 20_000 },
      );
      const texts = (await emulator.client.botMessages(user.id)).map((m) => m.text?.split('\n')[0]);
      expect(texts).toEqual(['Привет, Hook! Я Vitte, ИИ-ассистент.', 'Твой тариф: Бесплатный']);
      const calls = await emulator.client.calls({ method: 'setWebhook' });
      expect(calls.at(-1)?.params).toMatchObject({ secret_token: SECRET, drop_pending_updates: true });

      const del = startVitte(['webhook', 'delete'], webhookEnv);
      expect((await del.exited).code).toBe(0);
    } finally {
      expect((await api.stop('SIGTERM')).code).toBe(0);
    }
  }, 90_000);

  it('bot and worker each listen on their own port (BOT_PORT, WORKER_PORT), not on API_PORT', async () => {
    const api = await takePort();
    const bot = startVitte(['bot'], { ...env, API_PORT: String(api.port) });
    const worker = startVitte(['worker'], { ...env, API_PORT: String(api.port) });
    try {
      const urls = await Promise.all(
        [bot, worker].map(async (p) =>
          String((await p.waitForLog((l) => l.msg === 'listening', 60_000)).url),
        ),
      );
      for (const url of urls) {
        expect(url).not.toContain(`:${api.port}`);
        expect((await fetch(`${url}/health`)).status).toBe(200);
        expect((await fetch(`${url}/metrics`)).status).toBe(200);
        // Probes only: the public API and its docs belong to the api role.
        expect((await fetch(`${url}/api/docs/json`)).status).toBe(404);
      }
    } finally {
      expect((await bot.stop('SIGTERM')).code).toBe(0);
      expect((await worker.stop('SIGTERM')).code).toBe(0);
      api.server.close();
    }
  }, 90_000);

  it('a taken WORKER_PORT is one line naming it', async () => {
    const taken = await takePort();
    try {
      const worker = startVitte(['worker'], { ...env, WORKER_PORT: String(taken.port) });
      expect((await worker.exited).code).toBe(1);
      const errors = worker
        .output()
        .split('\n')
        .filter((l) => !l.startsWith('{') && l.trim());
      expect(errors).toEqual([
        `vitte worker: port ${taken.port} on 127.0.0.1 is already in use (WORKER_PORT): stop the process that holds it, or set WORKER_PORT to a free port`,
      ]);
    } finally {
      taken.server.close();
    }
  }, 60_000);

  it('in production an unconfigured LLM is an error at start', async () => {
    const worker = startVitte(['worker'], { ...env, NODE_ENV: 'production' });
    try {
      const line = await worker.waitForLog(
        (l) => String(l.msg).startsWith('LLM_BASE_URL is not set'),
        60_000,
      );
      expect(line.level).toBe(50);
      await worker.waitForLog((l) => l.msg === 'started');
    } finally {
      expect((await worker.stop('SIGTERM')).code).toBe(0);
    }
  }, 90_000);
});
