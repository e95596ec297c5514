import { LRUCache } from 'lru-cache';
import { EVERYTHING, type InvalidationBus } from './cache.js';
import type { Metrics } from './metrics.js';

export interface RowCacheOptions<V> {
  /** Names the cache in metrics and its topic on the invalidation bus. */
  name: string;
  bus: InvalidationBus;
  metrics: Metrics;
  /** Most rows kept; the least recently used go first. */
  max: number;
  /** How long a row may be served from now on (a read may pass its own); zero or less: not kept. */
  ttlMs: Lifetime<V>;
  /** Cuts each lifetime by up to this fraction at random, so rows read together do not expire together. */
  jitter?: number;
}

/** How long a row may be served from `now` on; zero or less: not kept at all. */
export type Lifetime<V> = (row: V, now: number) => number;

interface Load<V> {
  promise: Promise<V | undefined>;
  /** An invalidation arrived while the load ran: its row may predate the change and is not kept. */
  stale: boolean;
}

/**
 * Cache-aside for rows read on every update (users, subscriptions), held in this process and kept
 * coherent across processes by the invalidation bus. A write calls `invalidate` once it has committed;
 * every process drops the row. A row is served only while the bus is live: when it may have missed
 * messages (Redis down), reads go to the database and, once it is back, everything cached is dropped.
 * Concurrent misses of one key share one load (single-flight), so a cold burst makes one query.
 * Rows are frozen: every caller shares the instance.
 */
export class RowCache<V extends object> {
  private readonly rows: LRUCache<number, V>;
  private readonly loading = new Map<number, Load<V>>();
  /** Bumped when everything is dropped; a load that saw another epoch keeps nothing. */
  private epoch = 0;
  private readonly topic: string;
  private readonly results: Record<'hit' | 'miss' | 'shared' | 'bypass', { inc(): void }>;

  constructor(private readonly opts: RowCacheOptions<V>) {
    this.rows = new LRUCache<number, V>({ max: opts.max, ttlAutopurge: false });
    this.topic = `rows:${opts.name}`;
    const requests = opts.metrics.counter({
      name: 'vitte_row_cache_requests_total',
      help: 'Cached row reads by cache and result (hit; miss: loaded; shared: joined a load in flight; bypass: the invalidation bus was down)',
      labelNames: ['cache', 'result'],
    });
    const child = (result: string) => requests.labels({ cache: opts.name, result });
    this.results = {
      hit: child('hit'),
      miss: child('miss'),
      shared: child('shared'),
      bypass: child('bypass'),
    };
    opts.bus.subscribe(this.topic, (message) => this.drop(message));
    opts.bus.onResume(() => this.drop(EVERYTHING));
  }

  /** The row from the cache, else from `load` (one load per key at a time); undefined is never kept. */
  get(
    key: number,
    load: () => Promise<V | undefined>,
    ttlMs: Lifetime<V> = this.opts.ttlMs,
  ): Promise<V | undefined> {
    const live = this.opts.bus.live;
    const hit = live ? this.rows.get(key) : undefined;
    if (hit) {
      this.results.hit.inc();
      return Promise.resolve(hit);
    }
    const inFlight = this.loading.get(key);
    if (inFlight) {
      this.results.shared.inc();
      return inFlight.promise;
    }
    (live ? this.results.miss : this.results.bypass).inc();
    return this.load(key, load, ttlMs);
  }

  /**
   * Drop the rows here at once and in every other process through the bus. Call it once the write
   * is committed (tx.afterCommit): dropped earlier, a concurrent read could cache the old row again.
   * Resolves once the bus has taken the message (a failed publish is logged and made good later).
   */
  async invalidate(keys: readonly number[]): Promise<void> {
    if (!keys.length) return;
    const message = keys.join(',');
    this.drop(message);
    await this.opts.bus.publish(this.topic, message);
  }

  private async load(
    key: number,
    load: () => Promise<V | undefined>,
    ttlMs: Lifetime<V>,
  ): Promise<V | undefined> {
    const epoch = this.epoch;
    const entry: Load<V> = { promise: load(), stale: false };
    this.loading.set(key, entry);
    try {
      const row = await entry.promise;
      if (row && !entry.stale && epoch === this.epoch && this.opts.bus.live) {
        const ttl = ttlMs(row, Date.now()) * (1 - Math.random() * (this.opts.jitter ?? 0));
        if (ttl >= 1) this.rows.set(key, Object.freeze(row), { ttl: Math.floor(ttl) });
      }
      return row;
    } finally {
      if (this.loading.get(key) === entry) this.loading.delete(key);
    }
  }

  /** A bus message: comma-separated keys, or EVERYTHING. */
  private drop(message: string): void {
    if (message === EVERYTHING) {
      this.epoch += 1;
      this.rows.clear();
      for (const entry of this.loading.values()) entry.stale = true;
      this.loading.clear();
      return;
    }
    for (const part of message.split(',')) {
      const key = Number(part);
      this.rows.delete(key);
      const entry = this.loading.get(key);
      if (entry) {
        entry.stale = true;
        this.loading.delete(key);
      }
    }
  }
}
