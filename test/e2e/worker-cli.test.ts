import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createBotApiEmulator } from '../../src/dev/bot-api-emulator/index.js';
import { migrateUp } from '../../src/platform/db/migrator.js';
import { createTestDatabase, silentLogger, type TestDatabase } from '../helpers/db.js';
import { type RunningProcess, startVitte } from '../helpers/process.js';
import { has, TEST_REDIS_URL } from '../helpers/services.js';

describe.skipIf(!has('redis') || !has('postgres'))('vitte worker and vitte jobs (real processes)', () => {
  let testDb: TestDatabase;
  let emulator: Awaited<ReturnType<typeof createBotApiEmulator>>;
  let worker: RunningProcess;
  let env: Record<string, string>;

  beforeAll(async () => {
    emulator = await createBotApiEmulator({ logger: silentLogger });
    testDb = await createTestDatabase('worker_cli');
    const db = testDb.open();
    await migrateUp(db.db, silentLogger);
    await db.close();
    env = {
      DATABASE_URL: testDb.url!,
      REDIS_URL: TEST_REDIS_URL,
      REDIS_PREFIX: `vitte-test-worker-${process.pid}`,
      BOT_TOKEN: emulator.token,
      TELEGRAM_API_ROOT: emulator.url,
      API_PORT: '0',
      LOG_LEVEL: 'info',
    };
    worker = startVitte(['worker'], env);
    await worker.waitForLog((l) => l.msg === 'worker started', 60_000);
  }, 90_000);

  afterAll(async () => {
    await worker?.stop('SIGTERM');
    await emulator?.close();
    await testDb?.drop();
  });

  it('"jobs run system.ping" enqueues the test task and prints the worker\'s answer', async () => {
    const cli = startVitte(['jobs', 'run', 'system.ping'], env);
    const { code } = await cli.exited;
    // The CLI gives up after 60 s by itself; its output and the worker's tell why.
    expect(code, `jobs run:\n${cli.output()}\nworker:\n${worker.output().slice(-6000)}`).toBe(0);
    const answer = JSON.parse(cli.output().trim().split('\n').at(-1)!);
    expect(answer).toEqual({ pong: 'ping', worker: expect.stringMatching(/:\d+$/) });
    expect(answer.worker.endsWith(`:${worker.child.pid}`)).toBe(true);
    // Until a worker takes the job nothing happens: the CLI says what it waits for.
    expect(cli.output()).toContain('enqueued system.ping; waiting up to 60 s for a worker to run it');
  }, 90_000);

  it('"jobs status" prints the depth of every queue', async () => {
    const cli = startVitte(['jobs', 'status'], env);
    expect((await cli.exited).code).toBe(0);
    for (const queue of ['system', 'chat', 'maintenance', 'delivery']) {
      expect(cli.output()).toMatch(new RegExp(`${queue}\\s+waiting=\\d+ active=\\d+`));
    }
  });

  it('"jobs run" of an unknown job exits 2 naming the valid ones', async () => {
    const cli = startVitte(['jobs', 'run', 'nope'], env);
    expect((await cli.exited).code).toBe(2);
    expect(cli.output()).toContain('system.ping');
  });

  it('the worker drains and exits 0 on SIGTERM', async () => {
    const { code } = await worker.stop('SIGTERM');
    expect(code).toBe(0);
    expect(worker.output()).toContain('"msg":"stopped"');
  });
});
