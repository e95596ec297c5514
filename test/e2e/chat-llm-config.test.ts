import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createFakeLlm, type FakeLlm } from '../../src/dev/fake-llm/index.js';
import { startSystem, type TestSystem } from '../helpers/system.js';

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
