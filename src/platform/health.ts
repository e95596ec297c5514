import type { Database } from './db/database.js';
import { errorMessage } from './errors.js';
import { lastRedisError, type Redis } from './redis.js';

/** One dependency's health, as the health routes and the admin dashboard show it. */
export type Check = { status: 'ok' } | { status: 'not_configured' } | { status: 'error'; reason: string };

export async function checkDb(database: Pick<Database, 'ping'>): Promise<Check> {
  try {
    await database.ping();
    return { status: 'ok' };
  } catch (err) {
    return { status: 'error', reason: errorMessage(err) };
  }
}

/** `redis` undefined: embedded mode, nothing to check. */
export async function checkRedis(redis: Redis | undefined): Promise<Check> {
  if (!redis) return { status: 'not_configured' };
  if (redis.status !== 'ready') {
    const cause = lastRedisError(redis);
    return { status: 'error', reason: `connection is ${redis.status}${cause ? `: ${cause}` : ''}` };
  }
  try {
    await redis.ping();
    return { status: 'ok' };
  } catch (err) {
    return { status: 'error', reason: errorMessage(err) };
  }
}
