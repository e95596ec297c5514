import { createBotApiEmulator } from '../src/dev/bot-api-emulator/index.js';
import { migrateUp } from '../src/platform/db/migrator.js';
import { createTestDatabase, silentLogger } from '../test/helpers/db.js';
import { type RunningProcess, startVitte } from '../test/helpers/process.js';
import { TEST_REDIS_URL } from '../test/helpers/services.js';

const SECRET = 'bench-webhook-secret-0123456789';

/**
 * The production shape for benchmarks: `vitte api` (webhook) and `vitte worker` as separate processes
 * on Postgres and Redis, the Bot API emulator in this process delivering webhooks to the api.
 */
export async function startBenchSystem(
  label: string,
  env: Record<string, string> = {},
  roles = ['api', 'worker'],
) {
  const emulator = await createBotApiEmulator({ logger: silentLogger });
  const testDb = await createTestDatabase(label);
  const db = testDb.open();
  await migrateUp(db.db, silentLogger);
  const base = {
    DATABASE_URL: testDb.url!,
    REDIS_URL: TEST_REDIS_URL,
    REDIS_PREFIX: `vitte-bench-${label}-${process.pid}`,
    BOT_TOKEN: emulator.token,
    TELEGRAM_API_ROOT: emulator.url,
    BOT_MODE: 'webhook',
    WEBHOOK_SECRET: SECRET,
    API_PORT: '0',
    LOG_LEVEL: 'warn',
    NODE_ENV: 'production',
    ...env,
  };
  const processes: RunningProcess[] = [];
  let apiUrl = '';
  for (const role of roles) {
    const p = startVitte([role], { ...base, LOG_LEVEL: 'info' });
    processes.push(p);
    const line = await p.waitForLog((l) => l.msg === 'listening', 60_000);
    if (role === 'api') apiUrl = String(line.url);
  }
  if (roles.includes('worker')) {
    const worker = processes[roles.indexOf('worker')]!;
    await worker.waitForLog((l) => l.msg === 'worker started', 60_000);
  }
  const tg = emulator.client;
  await fetch(`${emulator.url}/bot${emulator.token}/setWebhook`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ url: `${apiUrl}/telegram/webhook`, secret_token: SECRET, max_connections: 40 }),
  });
  return {
    db: db.db,
    tg,
    emulator,
    async close() {
      await Promise.all(processes.map((p) => p.stop('SIGTERM')));
      await db.close();
      await emulator.close();
      await testDb.drop();
    },
  };
}
