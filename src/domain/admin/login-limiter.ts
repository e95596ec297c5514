import { RateLimiterMemory, RateLimiterRedis, RateLimiterRes } from 'rate-limiter-flexible';
import type { RateLimitDecision } from '../../platform/rate-limit.js';
import type { Redis } from '../../platform/redis.js';

/**
 * Counts sign-in attempts per key (an address, a username) in a fixed window, so that only
 * failures are left counted: an attempt is taken before the password is checked — atomically, so
 * a burst of parallel guesses cannot all pass a check that has not counted them yet — and a
 * success gives it back (or clears the key).
 */
export interface LoginLimiter {
  /** Count one attempt; not allowed once the window's attempts are used up. */
  take(key: string): Promise<RateLimitDecision>;
  /** Un-count an attempt that turned out to be a successful sign-in. */
  giveBack(key: string): Promise<void>;
  /** Forget every attempt of the key. */
  clear(key: string): Promise<void>;
}

/** Redis when given (every process shares the counts), memory otherwise. */
export function createLoginLimiter(opts: {
  redis?: Redis | undefined;
  keyPrefix: string;
  points: number;
  durationS: number;
}): LoginLimiter {
  const base = { keyPrefix: opts.keyPrefix, points: opts.points, duration: opts.durationS };
  const limiter = opts.redis
    ? new RateLimiterRedis({
        ...base,
        storeClient: opts.redis,
        // When Redis is down, count in memory rather than letting every guess through.
        insuranceLimiter: new RateLimiterMemory(base),
      })
    : new RateLimiterMemory(base);
  return {
    async take(key) {
      try {
        const res = await limiter.consume(key);
        return { allowed: true, msBeforeNext: res.msBeforeNext };
      } catch (res) {
        if (res instanceof RateLimiterRes) return { allowed: false, msBeforeNext: res.msBeforeNext };
        throw res;
      }
    },
    async giveBack(key) {
      await limiter.reward(key, 1);
    },
    async clear(key) {
      await limiter.delete(key);
    },
  };
}
