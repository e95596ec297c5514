import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createFakeLlm, type FakeLlm } from '../../src/dev/fake-llm/index.js';
import { migrateUp } from '../../src/platform/db/migrator.js';
import { createTestDatabase, silentLogger } from '../helpers/db.js';
import { startVitte } from '../helpers/process.js';
import { startSystem, type TestSystem } from '../helpers/system.js';
import { waitFor } from '../helpers/wait.js';

/** A provider that refuses our key: users hear a neutral "not available", never an operator's problem. */
describe('chat with a wrong LLM key', () => {
  let llm: FakeLlm;
  let s: TestSystem;
  beforeAll(async () => {
    llm = await createFakeLlm({ apiKey: 'the-right-key' });
    s = await startSystem({
      label: 'chat_wrong_key',
      env: {
        LLM_BASE_URL: llm.url,
        LLM_API_KEY: 'a-wrong-key',
        LLM_BREAKER_THRESHOLD: '2',
        BOT_RATE_LIMIT_POINTS: '1000',
      },
    });
  }, 60_000);
  afterAll(async () => {
    await s?.close();
    await llm?.close();
  });

  it('the start-up check already found the refused key (the dashboard shows it before any message)', async () => {
    await expect.poll(() => s.app.llm.status().lastError).toMatchObject({ status: 401, config: true });
    expect(llm.stats().requests).toBe(0);
  });

  it('every message gets the neutral text and its quota back; the breaker stays closed; it is counted', async () => {
    const user = { id: 66_001, first_name: 'Key', language_code: 'en' };
    for (const text of ['one', 'two', 'three']) {
      const before = (await s.tg.botMessages(user.id)).length;
      await s.tg.injectMessage({ user, text });
      await s.tg.waitFor(
        async () => ((await s.tg.botMessages(user.id)).length > before ? true : undefined),
        `the answer to ${text}`,
      );
    }
    const texts = (await s.tg.botMessages(user.id)).map((m) => m.text);
    expect(texts).toEqual(Array(3).fill('The AI is not available right now. Please try again later.'));
    expect((await s.app.subscriptions.get(user.id)).messages_used).toBe(0);
    expect(s.app.llm.status()).toMatchObject({ circuit: 'closed', lastError: { status: 401, config: true } });
    expect(await s.app.metrics.text()).toContain('vitte_llm_config_errors_total{status="401"} 3');
    expect(llm.stats().requests).toBe(3);
  });
});

/** The operator's mistake is logged as an error once (by the LLM client), not once more per reply. */
describe('the log of a reply that fails on a configuration error', () => {
  it('"reply failed" is a warning; the one error line is the LLM client\'s', async () => {
    const llm = await createFakeLlm({ apiKey: 'the-right-key' });
    const testDb = await createTestDatabase('llm_config_log');
    const db = testDb.open();
    await migrateUp(db.db, silentLogger);
    await db.close();
    const p = startVitte(['all'], {
      NODE_ENV: 'development',
      LOG_LEVEL: 'info',
      DATABASE_URL: testDb.url ?? '',
      DATA_DIR: testDb.dataDir,
      EMULATOR_PORT: '0',
      LLM_BASE_URL: llm.url,
      LLM_API_KEY: 'a-wrong-key',
    });
    try {
      const base = String((await p.waitForLog((l) => l.msg === 'listening', 60_000)).url);
      await p.waitForLog((l) => String(l.msg).startsWith('admin panel:'), 60_000);
      const failures = () => p.jsonLines().filter((l) => l.msg === 'reply failed');
      for (const [i, text] of ['one', 'two'].entries()) {
        const sent = await fetch(`${base}/playground/api/messages`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ user: { id: 66_101, first_name: 'Log' }, text }),
        });
        expect(sent.status).toBe(200);
        await waitFor(`reply failure ${i + 1}`, () => failures().length > i);
      }
      expect(failures().map((l) => l.level)).toEqual([40, 40]);
      expect(
        p
          .jsonLines()
          .filter((l) => Number(l.level) >= 50)
          .map((l) => l.msg),
      ).toEqual([expect.stringMatching(/^LLM configuration error/)]);
    } finally {
      await p.stop();
      await llm.close();
      await testDb.drop();
    }
  }, 90_000);
});
