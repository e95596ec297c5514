import { randomBytes } from 'node:crypto';
import { afterAll, describe, expect, it } from 'vitest';
import { createFailureLog } from '../../src/platform/failure-log.js';
import { closeRedis, createRedis } from '../../src/platform/redis.js';
import { silentLogger } from '../helpers/db.js';
import { has, TEST_REDIS_URL } from '../helpers/services.js';

const WINDOW = 60_000;

describe('failure log in memory', () => {
  it('counts per key, moves the window with each failure, forgets a quiet key', async () => {
    const log = createFailureLog({ keyPrefix: 't', windowMs: WINDOW, logger: silentLogger });
    expect(await log.add(['a', 'b'], 1_000)).toEqual([
      { count: 1, lastAt: 1_000 },
      { count: 1, lastAt: 1_000 },
    ]);
    expect(await log.add(['a'], 50_000)).toEqual([{ count: 2, lastAt: 50_000 }]);
    // b is quiet for the window; a's window moved with its second failure.
    expect(await log.get(['a', 'b'], 100_000)).toEqual([{ count: 2, lastAt: 50_000 }, undefined]);
    expect(await log.add(['a'], 111_000)).toEqual([{ count: 1, lastAt: 111_000 }]);
    await log.clear('a');
    expect(await log.get(['a'], 111_000)).toEqual([undefined]);
  });
});

describe.skipIf(!has('redis'))('failure log on Redis', () => {
  const redis = createRedis(TEST_REDIS_URL, silentLogger);
  const prefix = `vitte-test-failures-${randomBytes(4).toString('hex')}`;
  afterAll(async () => {
    const keys = await redis.keys(`${prefix}:*`);
    if (keys.length) await redis.del(...keys);
    await closeRedis(redis);
  });

  it('is shared by every process and expires a key a window after its last failure', async () => {
    await redis.ping();
    const one = createFailureLog({ redis, keyPrefix: prefix, windowMs: WINDOW, logger: silentLogger });
    const two = createFailureLog({ redis, keyPrefix: prefix, windowMs: WINDOW, logger: silentLogger });
    const now = Date.now();
    await one.add(['x', 'y'], now);
    expect(await two.add(['x'], now + 1)).toEqual([{ count: 2, lastAt: now + 1 }]);
    expect(await one.get(['x', 'y', 'z'], now + 2)).toEqual([
      { count: 2, lastAt: now + 1 },
      { count: 1, lastAt: now },
      undefined,
    ]);
    const ttl = await redis.pttl(`${prefix}:x`);
    expect(ttl).toBeGreaterThan(WINDOW - 5_000);
    expect(ttl).toBeLessThanOrEqual(WINDOW);
    await two.clear('x');
    expect(await one.get(['x'], now + 3)).toEqual([undefined]);
  });

  it('counts in memory while Redis does not answer, instead of waiting for it', async () => {
    // Nothing listens on port 1: the client never becomes ready.
    const down = createRedis('redis://127.0.0.1:1', silentLogger, { lazyConnect: false });
    try {
      const log = createFailureLog({
        redis: down,
        keyPrefix: prefix,
        windowMs: WINDOW,
        logger: silentLogger,
      });
      expect(await log.add(['k'], 1_000)).toEqual([{ count: 1, lastAt: 1_000 }]);
      expect(await log.add(['k'], 2_000)).toEqual([{ count: 2, lastAt: 2_000 }]);
      expect(await log.get(['k'], 3_000)).toEqual([{ count: 2, lastAt: 2_000 }]);
    } finally {
      down.disconnect();
    }
  });
});
