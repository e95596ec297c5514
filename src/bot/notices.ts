import { LRUCache } from 'lru-cache';
import type { RedisOrMemory } from '../platform/redis-or-memory.js';

/**
 * "Tell the user once per window" (the ban notice, the rate-limit warning), shared by every process
 * through Redis, in this process's memory while Redis is down.
 */
export class Notices {
  /** Made on first use (an LRU allocates all its slots up front): with Redis it is rarely needed. */
  private memory: LRUCache<string, true> | undefined;

  constructor(
    private readonly store: RedisOrMemory,
    private readonly prefix: string,
  ) {}

  /** True the first time `key` is seen within `windowMs`. */
  firstIn(key: string, windowMs: number): Promise<boolean> {
    const ttl = Math.max(1, Math.round(windowMs));
    return this.store.run(
      'notice',
      async (redis) => (await redis.set(`${this.prefix}:notice:${key}`, 1, 'PX', ttl, 'NX')) === 'OK',
      () => {
        this.memory ??= new LRUCache<string, true>({ max: 100_000, ttlAutopurge: false });
        if (this.memory.has(key)) return false;
        this.memory.set(key, true, { ttl });
        return true;
      },
    );
  }
}
