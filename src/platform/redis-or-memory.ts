import type { Logger } from './logger.js';
import type { Metrics } from './metrics.js';
import type { Redis } from './redis.js';

/**
 * Runs an operation on Redis while it answers, else in this process's memory: for what the update
 * path can do alone for a while (dedupe, rate limits, notices). Each fallback is counted; an outage
 * is logged once when it starts and once when it ends, not once per update. Without Redis (embedded
 * mode) everything simply runs in memory.
 */
export class RedisOrMemory {
  private degraded = false;
  private readonly fallbacks;

  constructor(
    readonly redis: Redis | undefined,
    private readonly logger: Logger,
    metrics: Metrics,
  ) {
    this.fallbacks = metrics.counter({
      name: 'vitte_redis_fallbacks_total',
      help: 'Update-path operations done in process memory because Redis was down or slow, by operation',
      labelNames: ['operation'],
    });
  }

  run<T>(
    operation: string,
    onRedis: (redis: Redis) => Promise<T>,
    inMemory: () => T | Promise<T>,
  ): Promise<T> {
    const redis = this.redis;
    if (!redis) return Promise.resolve(inMemory());
    if (redis.status !== 'ready') {
      this.fellBack(operation, redis.status);
      return Promise.resolve(inMemory());
    }
    // A chain rather than an async function: this runs a few times per update.
    return onRedis(redis).then(
      (result) => {
        if (this.degraded) {
          this.degraded = false;
          this.logger.info({ component: 'redis' }, 'redis answers again; the update path uses it again');
        }
        return result;
      },
      (err: unknown) => {
        this.fellBack(operation, err);
        return inMemory();
      },
    );
  }

  /** An operation that did its own fallback (e.g. the rate limiter) reports it here. */
  fellBack(operation: string, cause: unknown): void {
    this.fallbacks.inc({ operation });
    if (this.degraded) return;
    this.degraded = true;
    this.logger.warn(
      { component: 'redis', operation, err: cause instanceof Error ? cause.message : cause },
      'redis unavailable: dedupe, rate limits and notices run per process until it is back',
    );
  }
}
