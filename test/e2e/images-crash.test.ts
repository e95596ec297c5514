import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { App } from '../../src/app.js';
import { type BotApiEmulator, createBotApiEmulator } from '../../src/dev/bot-api-emulator/index.js';
import { type FakeComfy, startFakeComfy } from '../../src/dev/fake-comfyui/index.js';
import { controlApp } from '../helpers/app.js';
import { createTestDatabase, silentLogger, type TestDatabase } from '../helpers/db.js';
import { workerProcesses } from '../helpers/process.js';
import { deleteRedisKeys, has, TEST_REDIS_URL } from '../helpers/services.js';

const USER = { id: 930_001, first_name: 'Crash' };

describe.skipIf(!has('redis') || !has('postgres'))(
  'a picture survives SIGKILL of its worker (real processes)',
  () => {
    const prefix = `vitte-test-img-crash-${randomUUID().slice(0, 8)}`;
    let emulator: BotApiEmulator;
    let fake: FakeComfy;
    let testDb: TestDatabase;
    let control: App;
    let env: Record<string, string>;
    const workers = workerProcesses(() => env);

    beforeAll(async () => {
      emulator = await createBotApiEmulator({ logger: silentLogger });
      // 20 steps of 250 ms: the run is still going when the first worker dies.
      fake = await startFakeComfy({ stepMs: 250, maxImageSide: 64 });
      testDb = await createTestDatabase('images_crash');
      env = {
        DATABASE_URL: testDb.url!,
        REDIS_URL: TEST_REDIS_URL,
        REDIS_PREFIX: prefix,
        BOT_TOKEN: emulator.token,
        TELEGRAM_API_ROOT: emulator.url,
        COMFYUI_URLS: `${fake.url};name=gpu`,
        DATA_DIR: testDb.dataDir,
        LOG_LEVEL: 'info',
      };
      // This process only asks for the picture and inspects it; the workers make it.
      control = await controlApp(env);
      await control.users.register({ id: USER.id, first_name: USER.first_name });
      await control.settings.set('images.workflow', {
        name: 'text-to-image',
        width: 512,
        height: 512,
        steps: 20,
        negative_prompt: '',
        checkpoint: '',
      });
    }, 60_000);

    afterAll(async () => {
      await workers.killAll();
      await control?.close();
      await fake?.close();
      await emulator?.close();
      await testDb?.drop();
      await deleteRedisKeys(prefix);
    });

    it('the retried job follows the run it submitted instead of submitting again', async () => {
      const first = await workers.start();
      const user = (await control.users.find(USER.id))!;
      const request = await control.images.request(user, USER.id, 'a lighthouse in a storm');
      if (request.kind !== 'queued') throw new Error(`not queued: ${request.kind}`);
      await control.images.start(request.job.id, null);
      const promptId = `${request.job.run_key}-1`;

      await emulator.client.waitFor(
        async () => (fake.queue().running.includes(promptId) ? true : undefined),
        'the run to be on the GPU',
        { timeoutMs: 30_000 },
      );
      await first.stop('SIGKILL');
      expect(fake.stats().submits).toEqual({ [promptId]: 1 });

      const second = await workers.start();
      const job = await emulator.client.waitFor(
        async () => {
          const j = await control.images.get(request.job.id);
          return ['queued', 'running', 'delivering'].includes(j.status) ? undefined : j;
        },
        'the picture to finish',
        { timeoutMs: 120_000, intervalMs: 200 },
      );
      expect(job).toMatchObject({ status: 'succeeded', run: 1, attempts: 2, backend: 'gpu' });
      expect(fake.stats().submits).toEqual({ [promptId]: 1 });
      expect(await emulator.client.calls({ method: 'sendPhoto', chatId: USER.id })).toHaveLength(1);
      expect((await control.subscriptions.get(USER.id)).images_used).toBe(1);
      expect(second.output()).toContain('comfyui run found from an earlier attempt; not submitting again');
    }, 180_000);
  },
);
