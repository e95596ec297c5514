import { Redis, type RedisOptions } from 'ioredis';
import type { Logger } from './logger.js';

export type { Redis } from 'ioredis';

/**
 * An ioredis client that reconnects forever with capped backoff and says so once per outage,
 * instead of one log line per failed attempt.
 */
const lastErrors = new WeakMap<Redis, string>();

/** Why the client last failed to talk to Redis (e.g. ECONNREFUSED), while it is not ready. */
export function lastRedisError(client: Redis): string | undefined {
  return client.status === 'ready' ? undefined : lastErrors.get(client);
}

export function createRedis(url: string, logger: Logger, opts: RedisOptions = {}): Redis {
  return watchRedis(
    new Redis(url, {
      retryStrategy: (attempt) => Math.min(attempt * 200, 5_000),
      enableOfflineQueue: true,
      ...opts,
    }),
    logger,
    opts.connectionName,
  );
}

/**
 * Another connection to `client`'s server for commands that must not hold up an update: a command
 * that gets no answer within `timeoutMs` fails, and none waits for a connection that is down (no
 * offline queue), so the caller falls back at once. Commands issued in the same tick go out in one
 * write (auto-pipelining): one round trip.
 */
export function createFailFastRedis(client: Redis, logger: Logger, timeoutMs: number, role: string): Redis {
  const name = `${client.options.connectionName ?? 'vitte'}-${role}`;
  return watchRedis(
    client.duplicate({
      connectionName: name,
      commandTimeout: timeoutMs,
      enableOfflineQueue: false,
      maxRetriesPerRequest: 0,
      autoResendUnfulfilledCommands: false,
      enableAutoPipelining: true,
    }),
    logger,
    name,
  );
}

/** Logs once when `client` loses Redis and once when it is back; remembers why for lastRedisError. */
export function watchRedis(client: Redis, logger: Logger, name: string | undefined): Redis {
  const log = logger.child({ component: 'redis', name });
  let down = false;
  client.on('error', (err) => {
    lastErrors.set(client, err.message);
    if (!down) log.error({ err: err.message }, 'redis is down; reconnecting');
    down = true;
  });
  client.on('ready', () => {
    if (down) log.info('redis reconnected');
    down = false;
  });
  return client;
}

/** Close a client, waiting for pending replies when it is connected. */
export async function closeRedis(client: Redis): Promise<void> {
  if (client.status === 'end') return;
  try {
    if (client.status === 'ready') await client.quit();
    else client.disconnect();
  } catch {
    client.disconnect();
  }
}
