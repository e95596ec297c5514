import { type App, requireTelegram } from '../../src/app.js';
import { startRole } from '../../src/cli/roles.js';
import { loadConfig } from '../../src/config.js';
import {
  type BotApiEmulator,
  createBotApiEmulator,
  type EmulatorClient,
} from '../../src/dev/bot-api-emulator/index.js';
import { migrateUp } from '../../src/platform/db/migrator.js';
import { createTestDatabase, silentLogger, type TestDatabase } from './db.js';
import { TEST_REDIS_URL } from './services.js';

export interface TestSystem {
  app: App;
  /** Base URL of the app's HTTP server. */
  url: string;
  emulator: BotApiEmulator;
  tg: EmulatorClient;
  testDb: TestDatabase;
  close(): Promise<void>;
}

export const WEBHOOK_SECRET = 'test-webhook-secret-0123456789';

/**
 * The whole product in this process, exactly as `vitte all` runs it (bot, API, worker), on a fresh
 * migrated database, talking to a Bot API emulator over real HTTP. Webhook mode registers the webhook
 * at the emulator, so updates arrive as POSTs with the secret header.
 */
export async function startSystem(
  opts: { mode?: 'polling' | 'webhook'; redis?: boolean; env?: Record<string, string>; label?: string } = {},
): Promise<TestSystem> {
  const mode = opts.mode ?? 'polling';
  const emulator = await createBotApiEmulator({ logger: silentLogger });
  const testDb = await createTestDatabase(opts.label ?? 'system');
  const env: Record<string, string> = {
    NODE_ENV: 'test',
    LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? 'silent',
    API_PORT: '0',
    DATA_DIR: testDb.dataDir,
    BOT_TOKEN: emulator.token,
    TELEGRAM_API_ROOT: emulator.url,
    BOT_MODE: mode,
    WEBHOOK_SECRET,
    ...(testDb.url ? { DATABASE_URL: testDb.url } : {}),
    ...(opts.redis
      ? { REDIS_URL: TEST_REDIS_URL, REDIS_PREFIX: `vitte-test-${testDb.dataDir.slice(-8)}` }
      : {}),
    ...opts.env,
  };
  const config = loadConfig(env);
  if (testDb.url) {
    const db = testDb.open();
    await migrateUp(db.db, silentLogger);
    await db.close();
  }
  const { app, url } = await startRole('all', config);
  if (mode === 'webhook') {
    await requireTelegram(app, 'all').telegram.setWebhook(`${url}${config.WEBHOOK_PATH}`, {
      secret_token: WEBHOOK_SECRET,
    });
  }
  return {
    app,
    url,
    emulator,
    tg: emulator.client,
    testDb,
    async close() {
      await app.close();
      await emulator.close();
      await testDb.drop();
    },
  };
}
