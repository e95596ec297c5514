import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApp } from '../../src/app.js';
import { loadConfig } from '../../src/config.js';
import { type BotApiEmulator, createBotApiEmulator } from '../../src/dev/bot-api-emulator/index.js';
import { migrateUp } from '../../src/platform/db/migrator.js';
import { createTestDatabase, silentLogger, type TestDatabase } from '../helpers/db.js';
import { createUser } from '../helpers/factories.js';
import { type RunningProcess, runVitte, startVitteWorker } from '../helpers/process.js';
import { deleteRedisKeys, has, TEST_REDIS_URL } from '../helpers/services.js';

describe.skipIf(!has('redis') || !has('postgres'))('vitte broadcast (real processes)', () => {
  const prefix = `vitte-test-bcli-${randomUUID().slice(0, 8)}`;
  let emulator: BotApiEmulator;
  let testDb: TestDatabase;
  let worker: RunningProcess;
  let env: Record<string, string>;

  /** The id `create` prints on stdout (stderr's summary may arrive before or after it). */
  const idLine = (out: string): string => /^(\d+)$/m.exec(out)?.[1] ?? '';

  const vitte = (...args: string[]) => runVitte(['broadcast', ...args], env);

  beforeAll(async () => {
    emulator = await createBotApiEmulator({ logger: silentLogger });
    testDb = await createTestDatabase('broadcast_cli');
    // The users the CLI's broadcasts reach, registered by an app of this process.
    const seeder = createApp(
      loadConfig({
        NODE_ENV: 'test',
        LOG_LEVEL: 'silent',
        DATABASE_URL: testDb.url!,
        DATA_DIR: testDb.dataDir,
      }),
      { logger: silentLogger, role: 'test' },
    );
    await migrateUp(seeder.db, silentLogger);
    await createUser(seeder, { id: 61, firstName: 'A', languageCode: 'ru' });
    await createUser(seeder, { id: 62, firstName: 'B', languageCode: 'en' });
    await createUser(seeder, { id: 63, firstName: 'C', languageCode: 'ru' });
    await seeder.close();
    env = {
      DATABASE_URL: testDb.url!,
      REDIS_URL: TEST_REDIS_URL,
      REDIS_PREFIX: prefix,
      BOT_TOKEN: emulator.token,
      TELEGRAM_API_ROOT: emulator.url,
      API_PORT: '0',
      LOG_LEVEL: 'info',
    };
    worker = await startVitteWorker(env);
  }, 90_000);

  afterAll(async () => {
    await worker?.stop('SIGTERM');
    await emulator?.close();
    await testDb?.drop();
    await deleteRedisKeys(prefix);
  });

  it('create prints the id; start hands it to the worker; status shows the progress', async () => {
    const created = await vitte(
      'create',
      '--text',
      '<b>Привет</b>',
      '--audience',
      'language:ru',
      '--button-text',
      'Open',
      '--button-url',
      'https://example.com',
    );
    expect(created.code).toBe(0);
    const id = Number(idLine(created.output));
    expect(id).toBeGreaterThan(0);
    expect(created.output).toContain('2 recipient(s)');

    expect((await vitte('start', String(id))).code).toBe(0);
    await emulator.client.waitFor(
      async () => ((await emulator.client.botMessages(63)).length === 1 ? true : undefined),
      'the delivery to user 63',
      { timeoutMs: 20_000 },
    );
    expect((await emulator.client.botMessages(61))[0]?.text).toBe('Привет');
    expect(await emulator.client.botMessages(62)).toEqual([]);

    let status = '';
    await emulator.client.waitFor(
      async () => {
        status = (await vitte('status', String(id))).output;
        return status.includes(': completed') ? true : undefined;
      },
      'completed status',
      { timeoutMs: 20_000, intervalMs: 200 },
    );
    expect(status).toContain('total=2 pending=0 sending=0 sent=2 blocked=0 failed=0 cancelled=0');

    const again = await vitte('cancel', String(id));
    expect(again.code).toBe(1);
    expect(again.output).toContain('cannot cancel a completed broadcast');
  }, 120_000);

  it('pause and resume a running broadcast; the worker then finishes it, one message per user', async () => {
    await emulator.client.reset();
    // The first send gets a 429: the delivery queue waits 30 s, long enough to pause in the middle.
    await emulator.client.injectFault({ method: 'sendMessage', errorCode: 429, retryAfter: 30 });
    const id = idLine((await vitte('create', '--text', 'paused <i>then</i> resumed')).output);
    expect((await vitte('start', id)).code).toBe(0);
    await emulator.client.waitForCalls({ method: 'sendMessage' }, 1, { timeoutMs: 20_000 });

    const paused = await vitte('pause', id);
    expect(paused.code, paused.output).toBe(0);
    expect(paused.output).toContain(`broadcast ${id}: paused`);
    const status = (await vitte('status', id)).output;
    expect(status).toContain(': paused');
    // Sends already in flight beside the 429'd one went out; the 429'd delivery waits for resume.
    const [, pending, sentBefore] = /total=3 pending=(\d+) sending=0 sent=(\d+) /.exec(status) ?? [];
    expect(Number(pending)).toBeGreaterThanOrEqual(1);
    expect(Number(pending) + Number(sentBefore)).toBe(3);
    const twice = await vitte('pause', id);
    expect(twice.code).toBe(1);
    expect(twice.output).toContain('cannot pause a paused broadcast');

    const resumed = await vitte('resume', id);
    expect(resumed.code, resumed.output).toBe(0);
    expect(resumed.output).toContain(`broadcast ${id}: running`);
    let done = '';
    await emulator.client.waitFor(
      async () => {
        done = (await vitte('status', id)).output;
        return done.includes(': completed') ? true : undefined;
      },
      'the resumed broadcast to complete',
      { timeoutMs: 90_000, intervalMs: 1_000 },
    );
    expect(done).toContain('total=3 pending=0 sending=0 sent=3');
    const sent = (await emulator.client.calls({ method: 'sendMessage' })).filter((c) => c.ok);
    expect(sent.map((c) => c.chat_id).sort()).toEqual([61, 62, 63]);
  }, 180_000);

  it('scheduled, then cancelled; bad input is explained and exits 2', async () => {
    const at = new Date(Date.now() + 3_600_000).toISOString();
    const created = await vitte('create', '--text', 'later', '--at', at);
    expect(created.code).toBe(0);
    const id = idLine(created.output);
    expect((await vitte('status', id)).output).toContain(`: scheduled at ${at}`);
    const cancelled = await vitte('cancel', id);
    expect(cancelled.code).toBe(0);
    expect(cancelled.output).toContain(': cancelled');

    const bad = await vitte('create', '--text', '<b>unclosed', '--button-text', 'Go');
    expect(bad.code).toBe(2);
    expect(bad.output).toContain('invalid broadcast');
    expect(bad.output).toMatch(/text: .*can't parse entities/);
    expect(bad.output).toContain('buttonUrl: a button needs both a text and a URL');
  }, 120_000);
});
