import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { App } from '../../src/app.js';
import {
  type PrivateServer,
  privateServersAvailable,
  startPrivateRedis,
} from '../helpers/private-servers.js';
import { startSystem, type TestSystem } from '../helpers/system.js';

const ann = { id: 9_301, first_name: 'Ann', language_code: 'en' };

/** Sum of one counter's samples whose labels include `labels`. */
async function counter(app: App, name: string, labels: Record<string, string> = {}): Promise<number> {
  const metric = await app.metrics.registry.getSingleMetric(name)?.get();
  return (metric?.values ?? [])
    .filter((v) => Object.entries(labels).every(([k, l]) => v.labels[k] === l))
    .reduce((sum, v) => sum + v.value, 0);
}

const hits = (app: App) => counter(app, 'vitte_row_cache_requests_total', { result: 'hit' });

/**
 * Redis is a helper of the update path, not a condition of it: with a Redis of the test's own
 * stopped mid-test, updates are still answered (from PostgreSQL and memory), and once it is back the
 * caches serve again by themselves.
 */
describe.skipIf(!privateServersAvailable())('the bot while its Redis is down', () => {
  let redis: PrivateServer;
  let s: TestSystem;
  beforeAll(async () => {
    redis = await startPrivateRedis();
    s = await startSystem({
      mode: 'webhook',
      label: 'redis_outage',
      env: { REDIS_URL: redis.url, REDIS_PREFIX: 'outage' },
    });
  }, 60_000);
  afterAll(async () => {
    await s?.close();
    await redis?.close();
  });

  let answers = 0;
  async function status(): Promise<string | undefined> {
    await s.tg.injectMessage({ user: ann, text: '/status' });
    answers += 1;
    await s.tg.waitFor(
      async () => ((await s.tg.botMessages(ann.id)).length >= answers ? true : undefined),
      `answer ${answers}`,
      { timeoutMs: 15_000 },
    );
    return (await s.tg.botMessages(ann.id)).at(-1)?.text;
  }

  it('answers from PostgreSQL and memory while Redis is down, and caches again once it is back', async () => {
    expect(await status()).toMatch(/^Your plan: Free/);
    const warm = await hits(s.app);
    expect(await status()).toMatch(/^Your plan: Free/);
    expect(await hits(s.app)).toBeGreaterThan(warm);

    const beforeOutage = await hits(s.app);
    await redis.stop();
    const fallbacks = await counter(s.app, 'vitte_redis_fallbacks_total');
    const bypassed = await counter(s.app, 'vitte_row_cache_requests_total', { result: 'bypass' });
    for (let i = 0; i < 3; i++) expect(await status()).toMatch(/^Your plan: Free/);
    // Claims and rate limits ran in memory; the rows came from the database.
    expect(await counter(s.app, 'vitte_redis_fallbacks_total')).toBeGreaterThanOrEqual(fallbacks + 6);
    expect(
      await counter(s.app, 'vitte_row_cache_requests_total', { result: 'bypass' }),
    ).toBeGreaterThanOrEqual(bypassed + 3);
    // Nothing was served from the caches while the bus could not tell them of writes.
    const downHits = await hits(s.app);
    expect(downHits).toBe(beforeOutage);

    await redis.start();
    await s.tg.waitFor(async () => (s.app.bus.live ? true : undefined), 'the bus to be live again', {
      timeoutMs: 15_000,
    });
    // Its own connection reconnects by itself too: then an update needs no fallback at all.
    await s.tg.waitFor(
      async () => {
        const before = await counter(s.app, 'vitte_redis_fallbacks_total');
        expect(await status()).toMatch(/^Your plan: Free/);
        return (await counter(s.app, 'vitte_redis_fallbacks_total')) === before ? true : undefined;
      },
      'an update handled without falling back',
      { timeoutMs: 20_000, intervalMs: 200 },
    );
    expect(await status()).toMatch(/^Your plan: Free/);
    expect(await hits(s.app)).toBeGreaterThan(downHits);
  }, 90_000);
});
