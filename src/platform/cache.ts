import { randomUUID } from 'node:crypto';
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

/** A message meaning "anything under this topic may have changed": receivers drop all they hold. */
export const EVERYTHING = '*';

/** Tells every process that something cached changed (settings, a user's profile). */
export interface InvalidationBus {
  publish(topic: string, key: string): Promise<void>;
  subscribe(topic: string, handler: (key: string) => void): void;
  /**
   * False while messages may be missed (the subscriber connection is down or not yet subscribed):
   * what a process caches on the strength of the bus must not be served meanwhile.
   */
  readonly live: boolean;
  /** Runs when the bus is live again after it may have missed messages: drop what was cached. */
  onResume(handler: () => void): void;
  close(): Promise<void>;
}

export function createMemoryBus(): InvalidationBus {
  const emitter = new EventEmitter();
  // One listener per cache or service that subscribes; more than ten topics is normal, not a leak.
  emitter.setMaxListeners(0);
  return {
    async publish(topic, key) {
      emitter.emit(topic, key);
    },
    subscribe(topic, handler) {
      emitter.on(topic, handler);
    },
    live: true,
    onResume() {},
    async close() {
      emitter.removeAllListeners();
    },
  };
}

/**
 * Redis pub/sub. `subscriber` must be a dedicated connection (a subscribed client can do nothing else).
 * Local handlers also run on publish, so the publishing process does not depend on the round trip
 * (and ignores its own messages when Redis echoes them: late, they would drop rows cached since).
 * The bus is live only while every topic's subscription is confirmed; after an outage it tells its
 * resume handlers, since messages sent meanwhile are lost. A publish that failed is made good when
 * Redis is back by telling everyone that anything under the topic may have changed.
 */
export function createRedisBus(
  publisher: Redis,
  subscriber: Redis,
  prefix: string,
  logger: Logger,
): InvalidationBus {
  const local = createMemoryBus();
  const channel = (topic: string) => `${prefix}:invalidate:${topic}`;
  const origin = `${randomUUID()}|`;
  const byChannel = new Map<string, string>();
  const resumeHandlers: (() => void)[] = [];
  const unpublished = new Set<string>();
  let confirmed = false;
  let missedSome = false;

  const confirm = async () => {
    const channels = [...byChannel.keys()];
    try {
      if (channels.length) await subscriber.subscribe(...channels);
    } catch (err) {
      logger.warn({ component: 'cache', err: (err as Error).message }, 'invalidation subscribe failed');
      return;
    }
    // Nothing may be missed from here on; whatever was cached before must go if messages were lost.
    if (subscriber.status !== 'ready' || channels.length !== byChannel.size) return;
    if (missedSome) for (const handler of resumeHandlers) handler();
    missedSome = false;
    confirmed = true;
  };
  subscriber.on('message', (ch: string, message: string) => {
    const topic = byChannel.get(ch);
    if (!topic || message.startsWith(origin)) return;
    void local.publish(topic, message.slice(message.indexOf('|') + 1));
  });
  subscriber.on('close', () => {
    if (confirmed) missedSome = true;
    confirmed = false;
  });
  subscriber.on('ready', () => void confirm());
  publisher.on('ready', () => {
    for (const topic of unpublished) void publish(topic, EVERYTHING);
    unpublished.clear();
  });

  const publish = async (topic: string, key: string) => {
    await publisher.publish(channel(topic), `${origin}${key}`).catch((err: Error) => {
      // Once per outage: every write meanwhile would say the same.
      if (!unpublished.size)
        logger.warn(
          { component: 'cache', topic, err: err.message },
          'invalidations not published until redis is back',
        );
      unpublished.add(topic);
    });
  };
  return {
    async publish(topic, key) {
      await local.publish(topic, key);
      await publish(topic, key);
    },
    subscribe(topic, handler) {
      local.subscribe(topic, handler);
      if (!byChannel.has(channel(topic))) {
        byChannel.set(channel(topic), topic);
        confirmed = false;
        if (subscriber.status === 'ready') void confirm();
        else void subscriber.subscribe(channel(topic)).catch(() => {});
      }
    },
    get live() {
      return confirmed;
    },
    onResume(handler) {
      resumeHandlers.push(handler);
    },
    async close() {
      await local.close();
    },
  };
}
