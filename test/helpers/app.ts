import { type App, createApp } from '../../src/app.js';
import { loadConfig } from '../../src/config.js';
import { migrateUp } from '../../src/platform/db/migrator.js';
import { createTestDatabase, silentLogger, type TestDatabase } from './db.js';
import { TEST_REDIS_URL } from './services.js';

export interface TestApp {
  app: App;
  testDb: TestDatabase;
  close(): Promise<void>;
}

/**
 * A full App on a fresh migrated database. `redis: true` connects to the test Redis under a
 * unique prefix so files never see each other's keys.
 */
export async function createTestApp(
  env: Record<string, string> = {},
  opts: { redis?: boolean; label?: string } = {},
): Promise<TestApp> {
  const testDb = await createTestDatabase(opts.label);
  const config = loadConfig({
    NODE_ENV: 'test',
    LOG_LEVEL: 'silent',
    ...(testDb.url ? { DATABASE_URL: testDb.url } : {}),
    DATA_DIR: testDb.dataDir,
    ...(opts.redis
      ? { REDIS_URL: TEST_REDIS_URL, REDIS_PREFIX: `vitte-test-${testDb.dataDir.slice(-8)}` }
      : {}),
    ...env,
  });
  const app = createApp(config, { logger: silentLogger, role: 'test' });
  await migrateUp(app.db, silentLogger);
  return {
    app,
    testDb,
    async close() {
      await app.close();
      await testDb.drop();
    },
  };
}

/**
 * The app in the test process beside real `vitte` processes sharing its environment: it sets up
 * and inspects what they do (the schema migrated), and runs no role itself.
 */
export async function controlApp(env: Record<string, string>): Promise<App> {
  const app = createApp(loadConfig({ ...env, NODE_ENV: 'test', LOG_LEVEL: 'silent' }), {
    logger: silentLogger,
    role: 'test',
  });
  await migrateUp(app.db, silentLogger);
  return app;
}
