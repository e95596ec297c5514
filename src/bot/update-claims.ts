import { LRUCache } from 'lru-cache';
import type { RedisOrMemory } from '../platform/redis-or-memory.js';

/** Claimed: this attempt handles the update. Done: handled before. Busy: another attempt holds it. */
export type ClaimState = 'claimed' | 'done' | 'busy';

const DONE_MS = 24 * 3_600_000;
const BUSY = 'busy';
const DONE = 'done';

/**
 * Which updates are being handled and which are done, so each is handled once — and one whose
 * attempt died is handled again. An attempt claims the update with a short lease (renewed while it
 * runs), marks it done only once its effects are committed, and releases it when it fails in a way
 * a retry can fix. A crashed attempt's lease lapses, and Telegram's next re-delivery is handled.
 * Keys name the bot as well as the update: bots (and emulators) sharing a Redis never collide.
 * Redis when it answers (every process sees the same claims), this process's memory otherwise.
 */
export class UpdateClaims {
  private memoryStore: LRUCache<string, string> | undefined;
  private readonly inFlight = new Set<string>();
  private readonly renewal: NodeJS.Timeout;

  constructor(
    private readonly store: RedisOrMemory,
    private readonly prefix: string,
    private readonly leaseMs: number,
    private readonly memoryEntries: number,
  ) {
    this.renewal = setInterval(() => void this.renew(), Math.max(Math.floor(leaseMs / 3), 100));
    this.renewal.unref();
  }

  claim(botId: number, updateId: number): Promise<ClaimState> {
    const key = `${botId}:${updateId}`;
    return this.store.run(
      'claim',
      (redis) =>
        redis
          .set(this.redisKey(key), BUSY, 'PX', this.leaseMs, 'NX', 'GET')
          .then((before) => this.claimed(key, before)),
      () => {
        const before = this.memory.get(key) ?? null;
        if (before === null) this.memory.set(key, BUSY, { ttl: this.leaseMs });
        return this.claimed(key, before);
      },
    );
  }

  /** The update's effects are committed: a re-delivery within a day is dropped. */
  done(botId: number, updateId: number): Promise<unknown> {
    const key = `${botId}:${updateId}`;
    this.inFlight.delete(key);
    return this.store.run<unknown>(
      'done',
      (redis) => redis.set(this.redisKey(key), DONE, 'PX', DONE_MS),
      () => this.memory.set(key, DONE, { ttl: DONE_MS }),
    );
  }

  /** The attempt failed in a way a retry can fix: the next delivery of the update is handled. */
  async release(botId: number, updateId: number): Promise<void> {
    const key = `${botId}:${updateId}`;
    this.inFlight.delete(key);
    await this.store.run(
      'release',
      async (redis) => {
        await redis.del(this.redisKey(key));
      },
      () => {
        this.memory.delete(key);
      },
    );
  }

  close(): void {
    clearInterval(this.renewal);
  }

  /** Made on first use: an LRU allocates all its slots up front, and with Redis it is rarely needed. */
  private get memory(): LRUCache<string, string> {
    this.memoryStore ??= new LRUCache({ max: this.memoryEntries, ttlAutopurge: false });
    return this.memoryStore;
  }

  private claimed(key: string, before: string | null): ClaimState {
    if (before === null) {
      this.inFlight.add(key);
      return 'claimed';
    }
    return before === DONE ? 'done' : 'busy';
  }

  private redisKey(key: string): string {
    return `${this.prefix}:update:${key}`;
  }

  /** Keep the leases of updates still being handled (a slow database must not look like a crash). */
  private async renew(): Promise<void> {
    if (!this.inFlight.size) return;
    const keys = [...this.inFlight];
    await this.store.run(
      'renew',
      async (redis) => {
        const batch = redis.pipeline();
        for (const key of keys) batch.pexpire(this.redisKey(key), this.leaseMs, 'XX');
        await batch.exec();
      },
      () => {
        for (const key of keys)
          if (this.memory.get(key) === BUSY) this.memory.set(key, BUSY, { ttl: this.leaseMs });
      },
    );
  }
}
