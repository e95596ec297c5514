import { RateLimiterMemory, RateLimiterRedis, RateLimiterRes } from 'rate-limiter-flexible';
import type { Redis } from './redis.js';

export interface RateLimitDecision {
  allowed: boolean;
  /** Milliseconds until the window frees a point. */
  msBeforeNext: number;
}

/** A fixed-window limiter keyed by any string: Redis when given (shared by every process), memory otherwise. */
export interface RateLimiter {
  /** Count one point, atomically; not allowed once the window's points are used up. */
  consume(key: string): Promise<RateLimitDecision>;
  /** Un-count a point (e.g. a sign-in attempt that succeeded: only failures stay counted). */
  giveBack(key: string): Promise<void>;
  /** Forget every point of the key. */
  clear(key: string): Promise<void>;
}

function decide(attempt: Promise<RateLimiterRes>): Promise<RateLimitDecision> {
  return attempt.then(
    (res) => ({ allowed: true, msBeforeNext: res.msBeforeNext }),
    (res: unknown) => {
      if (res instanceof RateLimiterRes) return { allowed: false, msBeforeNext: res.msBeforeNext };
      throw res;
    },
  );
}

export function createRateLimiter(opts: {
  redis?: Redis | undefined;
  keyPrefix: string;
  points: number;
  durationS: number;
  /** Told when Redis failed (or was not connected) and the count was kept in memory instead. */
  onFallback?: (err: unknown) => void;
}): RateLimiter {
  const base = { keyPrefix: opts.keyPrefix, points: opts.points, duration: opts.durationS };
  const memory = new RateLimiterMemory(base);
  // A Redis that is down fails at once instead of being waited for.
  const redis = opts.redis
    ? new RateLimiterRedis({ ...base, storeClient: opts.redis, rejectIfRedisNotReady: true })
    : undefined;
  // When Redis is down, limit in memory instead of letting everything through or failing.
  const either = async <T>(onRedis: (l: RateLimiterRedis) => Promise<T>, inMemory: () => Promise<T>) => {
    if (!redis) return inMemory();
    try {
      return await onRedis(redis);
    } catch (err) {
      opts.onFallback?.(err);
      return inMemory();
    }
  };
  return {
    consume: (key) =>
      either(
        (l) => decide(l.consume(key)),
        () => decide(memory.consume(key)),
      ),
    async giveBack(key) {
      await either(
        (l) => l.reward(key, 1),
        () => memory.reward(key, 1),
      );
    },
    async clear(key) {
      await either(
        (l) => l.delete(key),
        () => memory.delete(key),
      );
    },
  };
}
