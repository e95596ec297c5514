import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { Redis } from 'ioredis';
import { afterAll, describe, expect, it } from 'vitest';
import { LlmCancelledError, LlmClient } from '../../src/integrations/llm/llm-client.js';
import { Metrics } from '../../src/platform/metrics.js';
import {
  CircuitBreaker,
  CircuitOpenError,
  type ConcurrencyLimit,
  RedisConcurrencyLimit,
  Semaphore,
} from '../../src/platform/resilience.js';
import { silentLogger } from '../helpers/db.js';
import { has, TEST_REDIS_URL } from '../helpers/services.js';

/** Resolves with whether `p` settled within `ms`. */
async function settlesWithin(p: Promise<unknown>, ms: number): Promise<boolean> {
  return Promise.race([
    p.then(
      () => true,
      () => true,
    ),
    sleep(ms).then(() => false),
  ]);
}

describe('Semaphore', () => {
  it('caps holders and serves waiters first come, first served', async () => {
    const sem = new Semaphore(2);
    const a = await sem.acquire();
    await sem.acquire();
    const order: string[] = [];
    const queued = (name: string) =>
      sem.acquire().then((release) => {
        order.push(name);
        return release;
      });
    const c = queued('c');
    const d = queued('d');
    expect(await settlesWithin(c, 30)).toBe(false);
    await a();
    await a(); // a second release of the same slot changes nothing
    await c;
    expect(await settlesWithin(d, 30)).toBe(false);
    await (await c)();
    await d;
    expect(order).toEqual(['c', 'd']);
  });

  it('rejects at once on an aborted signal, and a waiter that aborts gives up its place', async () => {
    const sem = new Semaphore(1);
    const held = await sem.acquire();
    await expect(sem.acquire(AbortSignal.abort(new Error('gone')))).rejects.toThrow('gone');
    const ac = new AbortController();
    const waiting = sem.acquire(ac.signal);
    ac.abort(new Error('stopped'));
    await expect(waiting).rejects.toThrow('stopped');
    const next = sem.acquire();
    await held();
    expect(await settlesWithin(next, 100)).toBe(true);
  });
});

describe('CircuitBreaker', () => {
  it('opens after the threshold, fails fast during the cooldown, then lets one trial through', () => {
    let now = 0;
    const states: string[] = [];
    const b = new CircuitBreaker(
      'dep',
      2,
      1_000,
      (s) => states.push(s),
      () => now,
    );
    b.enter();
    b.failure();
    b.enter();
    b.failure();
    expect(() => b.enter()).toThrow(CircuitOpenError);
    now = 1_001;
    b.enter(); // the trial
    expect(() => b.enter()).toThrow(CircuitOpenError); // only one trial at a time
    b.success();
    b.enter();
    expect(states).toEqual(['open', 'half-open', 'closed']);
  });

  it('a failed trial opens it again; a neutral end frees the trial slot', () => {
    let now = 0;
    const b = new CircuitBreaker(
      'dep',
      1,
      100,
      () => {},
      () => now,
    );
    b.enter();
    b.failure();
    now = 200;
    b.enter();
    b.neutral();
    b.enter();
    b.failure();
    expect(b.current).toBe('open');
  });
});

describe.skipIf(!has('redis'))('RedisConcurrencyLimit (one cap for every process)', () => {
  const key = `vitte-test-slots-${randomUUID().slice(0, 8)}`;
  const clients: Redis[] = [];
  const client = () => {
    const r = new Redis(TEST_REDIS_URL);
    clients.push(r);
    return r;
  };
  afterAll(() => {
    for (const c of clients) c.disconnect();
  });
  const limit = (redis: Redis, leaseMs = 30_000): ConcurrencyLimit =>
    new RedisConcurrencyLimit(redis, key, 2, silentLogger, { leaseMs, pollMs: 20 });

  it('two processes share the cap: the third holder waits for a release anywhere', async () => {
    const a = limit(client());
    const b = limit(client());
    const r1 = await a.acquire();
    const r2 = await b.acquire();
    const third = a.acquire();
    expect(await settlesWithin(third, 200)).toBe(false);
    await r2();
    const r3 = await third;
    await Promise.all([r1(), r3()]);
  });

  it('an abort while waiting rejects with the reason and takes no slot', async () => {
    const a = limit(client());
    const held = [await a.acquire(), await a.acquire()];
    const ac = new AbortController();
    const waiting = a.acquire(ac.signal);
    setTimeout(() => ac.abort(new Error('user stopped')), 50);
    await expect(waiting).rejects.toThrow('user stopped');
    await held[0]!();
    const again = await a.acquire();
    await Promise.all([held[1]!(), again()]);
  });

  it("a crashed holder's slots come back when its lease runs out", async () => {
    const redis = client();
    // Two holders that took their slots and died: their leases are in Redis, nobody refreshes them.
    const now = Date.now();
    await redis.zadd(`semaphore:${key}`, now, 'dead-1', now, 'dead-2');
    const alive = limit(client(), 400);
    const release = await alive.acquire();
    expect(Date.now() - now).toBeGreaterThanOrEqual(350);
    expect(await redis.zscore(`semaphore:${key}`, 'dead-1')).toBeNull();
    await release();
  });
});

describe('LlmClient and its concurrency limit', () => {
  it('a request cancelled while it waits for a slot is a cancellation, never sent', async () => {
    const slots = new Semaphore(1);
    const held = await slots.acquire();
    const llm = new LlmClient({
      baseUrl: 'http://127.0.0.1:9/v1',
      apiKey: undefined,
      model: 'm',
      temperature: 0,
      maxTokens: 10,
      timeoutMs: 5_000,
      maxRetries: 0,
      concurrency: slots,
      breakerThreshold: 1,
      breakerCooldownMs: 60_000,
      logger: silentLogger,
      metrics: new Metrics({ defaultMetrics: false }),
    });
    const ac = new AbortController();
    const request = llm.stream({ messages: [{ role: 'user', content: 'hi' }], signal: ac.signal });
    ac.abort(new Error('stop'));
    await expect(request).rejects.toBeInstanceOf(LlmCancelledError);
    await held();
    // The breaker did not count the cancellation as a provider failure.
    const failing = llm.stream({ messages: [{ role: 'user', content: 'hi' }] });
    await expect(failing).rejects.toThrow(/LLM request failed/);
  });
});
