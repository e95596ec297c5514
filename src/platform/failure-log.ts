import { LRUCache } from 'lru-cache';
import type { Logger } from './logger.js';
import type { Redis } from './redis.js';

/** Failures counted for one key: how many since the key was last quiet for the whole window, and the last one's time. */
export interface FailureRecord {
  count: number;
  /** Epoch milliseconds of the latest failure. */
  lastAt: number;
}

/**
 * Counts failures per key (sign-in attempts per address, per user name, …) so a caller can make
 * each further attempt wait longer. A key is forgotten once no failure came for `windowMs`: every
 * failure moves its end. On Redis when given (shared by every process), else in memory — and in
 * memory too while Redis is not answering, so an outage neither opens the door nor locks it.
 */
export interface FailureLog {
  /** The records of `keys`, in order (undefined: no failure within the window). */
  get(keys: readonly string[], now: number): Promise<(FailureRecord | undefined)[]>;
  /** Count one failure at `now` for each key; resolves with the records after it. */
  add(keys: readonly string[], now: number): Promise<FailureRecord[]>;
  /** Forget a key. */
  clear(key: string): Promise<void>;
}

export interface FailureLogOptions {
  redis?: Redis | undefined;
  keyPrefix: string;
  windowMs: number;
  logger: Logger;
  /** Keys kept in memory at most (the least recently used go first). */
  memoryKeys?: number;
}

export function createFailureLog(opts: FailureLogOptions): FailureLog {
  const memory = new LRUCache<string, FailureRecord>({ max: opts.memoryKeys ?? 100_000 });
  const live = (r: FailureRecord | undefined, now: number) =>
    r && now - r.lastAt < opts.windowMs ? r : undefined;
  const inMemory: FailureLog = {
    async get(keys, now) {
      return keys.map((k) => live(memory.get(k), now));
    },
    async add(keys, now) {
      return keys.map((k) => {
        const next = { count: (live(memory.get(k), now)?.count ?? 0) + 1, lastAt: now };
        memory.set(k, next);
        return next;
      });
    },
    async clear(key) {
      memory.delete(key);
    },
  };
  const redis = opts.redis;
  if (!redis) return inMemory;

  const redisKey = (k: string) => `${opts.keyPrefix}:${k}`;
  let degraded = false;
  // Commands wait in ioredis' offline queue while Redis is down; memory answers at once instead.
  const either = async <T>(onRedis: () => Promise<T>, fallback: () => Promise<T>): Promise<T> => {
    if (redis.status === 'ready') {
      try {
        const result = await onRedis();
        degraded = false;
        return result;
      } catch (err) {
        if (!degraded)
          opts.logger.warn({ err, prefix: opts.keyPrefix }, 'failure log: Redis failed; counting in memory');
        degraded = true;
      }
    } else if (!degraded) {
      opts.logger.warn(
        { prefix: opts.keyPrefix, status: redis.status },
        'failure log: Redis is down; counting in memory',
      );
      degraded = true;
    }
    return fallback();
  };
  return {
    get: (keys, now) =>
      either(
        async () => {
          const pipeline = redis.pipeline();
          for (const k of keys) pipeline.hmget(redisKey(k), 'n', 'at');
          const replies = (await pipeline.exec()) ?? [];
          return replies.map(([err, value]) => {
            if (err) throw err;
            const [n, at] = value as [string | null, string | null];
            return n && at ? live({ count: Number(n), lastAt: Number(at) }, now) : undefined;
          });
        },
        () => inMemory.get(keys, now),
      ),
    add: (keys, now) =>
      either(
        async () => {
          const tx = redis.multi();
          for (const k of keys) {
            tx.hincrby(redisKey(k), 'n', 1);
            tx.hset(redisKey(k), 'at', now);
            tx.pexpire(redisKey(k), opts.windowMs);
          }
          const replies = (await tx.exec()) ?? [];
          return keys.map((_, i) => {
            const [err, n] = replies[i * 3] ?? [new Error('no reply')];
            if (err) throw err;
            return { count: Number(n), lastAt: now };
          });
        },
        () => inMemory.add(keys, now),
      ),
    clear: (key) =>
      either(
        async () => {
          await redis.del(redisKey(key));
        },
        () => inMemory.clear(key),
      ),
  };
}
