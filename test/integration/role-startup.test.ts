import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { systemHealth } from '../../src/admin/system-health.js';
import type { App } from '../../src/app.js';
import { startRole } from '../../src/cli/roles.js';
import { loadConfig } from '../../src/config.js';
import { EmulatorClient } from '../../src/dev/bot-api-emulator/index.js';
import { createFakeLlm, type FakeLlm } from '../../src/dev/fake-llm/index.js';
import { migrateUp } from '../../src/platform/db/migrator.js';
import { createTestDatabase, silentLogger, type TestDatabase } from '../helpers/db.js';

const SECRET = 'role-startup-secret-0123456789';

/**
 * `vitte all` as a newcomer starts it in development (no token, no LLM_BASE_URL) while a local
 * OpenAI-compatible server runs; webhook mode, so the one server also carries the webhook.
 */
describe('all in development with a local LLM server (in process)', () => {
  let testDb: TestDatabase;
  let local: FakeLlm;
  let app: App;
  let url: string;
  let tg: EmulatorClient;

  beforeAll(async () => {
    local = await createFakeLlm({ models: ['llama-test', 'other-model'] });
    testDb = await createTestDatabase('role_startup');
    if (testDb.url) {
      const db = testDb.open();
      await migrateUp(db.db, silentLogger);
      await db.close();
    }
    const config = loadConfig({
      NODE_ENV: 'development',
      LOG_LEVEL: 'silent',
      API_PORT: '0',
      EMULATOR_PORT: '0',
      DATA_DIR: testDb.dataDir,
      BOT_MODE: 'webhook',
      WEBHOOK_SECRET: SECRET,
      CHAT_STREAM_INTERVAL_MS: '100',
      ...(testDb.url ? { DATABASE_URL: testDb.url } : {}),
    });
    const started = await startRole('all', config, {
      // Nothing listens on the first; the second is "the local Ollama".
      localLlms: [
        { name: 'Nothing', baseUrl: 'http://127.0.0.1:9/v1' },
        { name: 'Test server', baseUrl: local.url },
      ],
    });
    ({ app, url } = started);
    tg = new EmulatorClient(started.emulatorUrl!);
    await app.telegram!.setWebhook(`${url}${config.WEBHOOK_PATH}`, { secret_token: SECRET });
  }, 90_000);

  afterAll(async () => {
    await app?.close();
    await local?.close();
    await testDb?.drop();
  });

  it('talks to the local server with the first model it lists', async () => {
    expect(app.config).toMatchObject({
      LLM_BASE_URL: local.url,
      LLM_MODEL: 'llama-test',
      llmSource: 'local',
    });
    const user = { id: 51_001, first_name: 'Local', language_code: 'en' };
    await tg.injectMessage({ user, text: 'hello local' });
    await tg.waitForBotMessage(user.id, (m) => m.text === 'Echo: hello local');
    expect(local.requests().at(-1)!.body.model).toBe('llama-test');
  });

  it('the dashboard health names the provider and the webhook as Telegram reports it', async () => {
    const health = await systemHealth(app);
    expect(health.llm).toMatchObject({
      source: 'local',
      configured: true,
      model: 'llama-test',
      baseUrl: local.url,
      circuit: 'closed',
    });
    expect(health.llm.lastSuccessAt).toBeInstanceOf(Date);
    expect(health.bot.mode).toBe('webhook');
    expect(health.bot.lastUpdateAt).toBeInstanceOf(Date);
    expect(health.bot.webhook).toEqual({
      url: `${url}/telegram/webhook`,
      pendingUpdates: 0,
      lastError: undefined,
    });
  });

  it('the OpenAPI document lists the public API only', async () => {
    const doc = (await (await fetch(`${url}/api/docs/json`)).json()) as { paths: Record<string, unknown> };
    const paths = Object.keys(doc.paths);
    expect(paths).toEqual(expect.arrayContaining(['/health', '/health/ready', '/api/v1/health']));
    // All of these are served by this very server.
    for (const route of ['/admin/login', '/playground', '/telegram/webhook']) {
      expect(
        (await fetch(`${url}${route}`, { method: route.startsWith('/tele') ? 'POST' : 'GET' })).status,
      ).not.toBe(404);
    }
    expect(paths.filter((p) => !/^\/(health|metrics|api\/v1)(\/|$)/.test(p))).toEqual([]);
  });
});
