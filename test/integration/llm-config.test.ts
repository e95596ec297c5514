import { Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createFakeLlm, type FakeLlm } from '../../src/dev/fake-llm/index.js';
import { LlmClient, LlmConfigError, LlmNotConfiguredError } from '../../src/integrations/llm/llm-client.js';
import { createLogger } from '../../src/platform/logger.js';
import { Metrics } from '../../src/platform/metrics.js';
import { Semaphore } from '../../src/platform/resilience.js';

function client(fake: FakeLlm, apiKey: string, lines: string[], metrics: Metrics) {
  const destination = new Writable({
    write(chunk, _enc, cb) {
      lines.push(String(chunk));
      cb();
    },
  });
  return new LlmClient({
    baseUrl: fake.url,
    apiKey,
    model: 'fake-model',
    temperature: 0,
    maxTokens: 50,
    timeoutMs: 5_000,
    maxRetries: 2,
    concurrency: new Semaphore(4),
    breakerThreshold: 2,
    breakerCooldownMs: 60_000,
    logger: createLogger({ level: 'info', pretty: false, destination }),
    metrics,
  });
}

/** A wrong key is the operator's configuration error: logged once, counted, never opens the breaker. */
describe('LLM configuration errors (a provider that refuses the key)', () => {
  let fake: FakeLlm;
  beforeAll(async () => {
    fake = await createFakeLlm({ apiKey: 'right-key' });
  });
  afterAll(() => fake?.close());

  it('a 401 is a configuration error: not retried, logged once per cause, counted, breaker stays closed', async () => {
    const lines: string[] = [];
    const metrics = new Metrics({ defaultMetrics: false });
    const llm = client(fake, 'wrong-key', lines, metrics);
    fake.reset();
    for (let i = 0; i < 4; i++) {
      const err = await llm.stream({ messages: [{ role: 'user', content: 'hi' }] }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(LlmConfigError);
      // Callers that know "not configured" treat it the same way (neutral answer, quota back).
      expect(err).toBeInstanceOf(LlmNotConfiguredError);
      expect((err as LlmConfigError).status).toBe(401);
    }
    expect(fake.stats().requests).toBe(4);
    const status = llm.status();
    expect(status.circuit).toBe('closed');
    expect(status.lastError).toMatchObject({ status: 401, config: true });

    const logged = lines.map((l) => JSON.parse(l) as { level: number; msg: string });
    const configLines = logged.filter((l) => l.msg.startsWith('LLM configuration error'));
    expect(configLines).toHaveLength(1);
    expect(configLines[0]!.level).toBe(50);
    expect(configLines[0]!.msg).toContain('LLM_API_KEY');
    expect(logged.some((l) => l.msg.includes('circuit'))).toBe(false);
    expect(await metrics.text()).toContain('vitte_llm_config_errors_total{status="401"} 4');
    expect(await metrics.text()).toContain('vitte_llm_requests_total{outcome="config_error"} 4');
  });

  it('the start-up check tells a refused key from a working one', async () => {
    const metrics = new Metrics({ defaultMetrics: false });
    const wrong = await client(fake, 'wrong-key', [], metrics).check();
    expect(wrong).toMatchObject({ ok: false, status: 401, config: true });
    const right = await client(fake, 'right-key', [], metrics).check();
    expect(right).toEqual({ ok: true, models: ['fake-model'] });
  });

  it('a cause is logged once while it lasts, and again when it comes back after a success', async () => {
    const lines: string[] = [];
    const llm = client(fake, 'right-key', lines, new Metrics({ defaultMetrics: false }));
    fake.reset();
    const denied = { error: { status: 403, message: 'Project has no access to the model' } };
    fake.enqueue(denied, denied, 'fine', denied);
    const ask = () => llm.stream({ messages: [{ role: 'user', content: 'a' }] }).catch((e: unknown) => e);
    expect(await ask()).toBeInstanceOf(LlmConfigError);
    expect(await ask()).toBeInstanceOf(LlmConfigError);
    expect(await ask()).toMatchObject({ text: 'fine' });
    expect(await ask()).toBeInstanceOf(LlmConfigError);
    const msgs = lines.map((l) => (JSON.parse(l) as { msg: string }).msg);
    expect(msgs.filter((m) => m.startsWith('LLM configuration error'))).toHaveLength(2);
    expect(llm.status().lastSuccessAt).toBeInstanceOf(Date);
  });
});
