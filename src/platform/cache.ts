import { EventEmitter } from 'node:events';
import { LRUCache } from 'lru-cache';
import type { Logger } from './logger.js';
import type { Redis } from './redis.js';

/**
 * A small key-value store with TTLs: Redis when configured (shared by every process),
 * an LRU in memory otherwise. Values are JSON.
 */
export interface Cache {
  get<T>(key: string): Promise<T | undefined>;
  set(key: string, value: unknown, ttlMs: number): Promise<void>;
  delete(key: string): Promise<void>;
  /** Store only when the key is absent. Returns true when this call stored it. */
  setIfAbsent(key: string, value: unknown, ttlMs: number): Promise<boolean>;
}

export function createMemoryCache(max = 100_000): Cache {
  const lru = new LRUCache<string, { v: string }>({ max, ttlAutopurge: false });
  return {
    async get<T>(key: string) {
      const hit = lru.get(key);
      return hit ? (JSON.parse(hit.v) as T) : undefined;
    },
    async set(key, value, ttlMs) {
      lru.set(key, { v: JSON.stringify(value) }, { ttl: ttlMs });
    },
    async delete(key) {
      lru.delete(key);
    },
    async setIfAbsent(key, value, ttlMs) {
      if (lru.has(key)) return false;
      lru.set(key, { v: JSON.stringify(value) }, { ttl: ttlMs });
      return true;
    },
  };
}

export function createRedisCache(redis: Redis, prefix: string): Cache {
  const k = (key: string) => `${prefix}:cache:${key}`;
  return {
    async get<T>(key: string) {
      const raw = await redis.get(k(key));
      return raw === null ? undefined : (JSON.parse(raw) as T);
    },
    async set(key, value, ttlMs) {
      await redis.set(k(key), JSON.stringify(value), 'PX', Math.max(1, Math.round(ttlMs)));
    },
    async delete(key) {
      await redis.del(k(key));
    },
    async setIfAbsent(key, value, ttlMs) {
      const res = await redis.set(k(key), JSON.stringify(value), 'PX', Math.max(1, Math.round(ttlMs)), 'NX');
      return res === 'OK';
    },
  };
}

/** Tells every process that something cached changed (settings, a user's profile). */
export interface InvalidationBus {
  publish(topic: string, key: string): Promise<void>;
  subscribe(topic: string, handler: (key: string) => void): void;
  close(): Promise<void>;
}

export function createMemoryBus(): InvalidationBus {
  const emitter = new EventEmitter();
  return {
    async publish(topic, key) {
      emitter.emit(topic, key);
    },
    subscribe(topic, handler) {
      emitter.on(topic, handler);
    },
    async close() {
      emitter.removeAllListeners();
    },
  };
}

/**
 * Redis pub/sub. `subscriber` must be a dedicated connection (a subscribed client can do nothing else).
 * Local handlers also run on publish, so the publishing process does not depend on the round trip.
 */
export function createRedisBus(
  publisher: Redis,
  subscriber: Redis,
  prefix: string,
  logger: Logger,
): InvalidationBus {
  const local = createMemoryBus();
  const channel = (topic: string) => `${prefix}:invalidate:${topic}`;
  const topics = new Set<string>();
  subscriber.on('message', (ch: string, key: string) => {
    for (const topic of topics) if (channel(topic) === ch) void local.publish(topic, key);
  });
  return {
    async publish(topic, key) {
      await local.publish(topic, key);
      await publisher.publish(channel(topic), key).catch((err: Error) => {
        logger.warn({ component: 'cache', topic, err: err.message }, 'invalidation not published');
      });
    },
    subscribe(topic, handler) {
      local.subscribe(topic, handler);
      if (!topics.has(topic)) {
        topics.add(topic);
        void subscriber.subscribe(channel(topic)).catch((err: Error) => {
          logger.warn({ component: 'cache', topic, err: err.message }, 'invalidation subscribe failed');
        });
      }
    },
    async close() {
      await local.close();
    },
  };
}
