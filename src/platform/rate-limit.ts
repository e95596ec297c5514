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

export function createRateLimiter(opts: {
  redis?: Redis | undefined;
  keyPrefix: string;
  points: number;
  durationS: number;
}): RateLimiter {
  const base = { keyPrefix: opts.keyPrefix, points: opts.points, duration: opts.durationS };
  const limiter = opts.redis
    ? new RateLimiterRedis({
        ...base,
        storeClient: opts.redis,
        // When Redis is down, limit in memory instead of letting everything through or failing.
        insuranceLimiter: new RateLimiterMemory(base),
      })
    : new RateLimiterMemory(base);
  return {
    async consume(key) {
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
