import { Redis, type RedisOptions } from 'ioredis';
import type { Logger } from '../logger.js';
import { watchRedis } from '../redis.js';
import type { JobState } from './queue.js';

/**
 * The connection every BullMQ Queue of one adapter shares for producing (enqueue, counts,
 * schedules). It reconnects forever with capped backoff and logs once per outage.
 */
export function createProducer(
  base: RedisOptions & { url?: string },
  connectionName: string,
  logger: Logger,
): Redis {
  const { url, ...rest } = base;
  const o: RedisOptions = {
    retryStrategy: (attempt) => Math.min(attempt * 200, 5_000),
    ...rest,
    connectionName,
  };
  return watchRedis(url ? new Redis(url, o) : new Redis(o), logger, connectionName);
}

export function toJobState(state: string): JobState {
  switch (state) {
    case 'wait':
    case 'waiting':
    case 'prioritized':
    case 'waiting-children':
      return 'waiting';
    case 'delayed':
    case 'active':
    case 'completed':
    case 'failed':
      return state;
    default:
      return 'unknown';
  }
}

/** Resolves true when `p` settles within `ms`, false otherwise; never rejects. */
export async function within(p: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<false>((resolve) => {
    timer = setTimeout(() => resolve(false), ms);
  });
  try {
    return await Promise.race([
      p.then(
        () => true,
        () => true,
      ),
      timeout,
    ]);
  } finally {
    clearTimeout(timer);
  }
}
