import { existsSync } from 'node:fs';
import { createConnection } from 'node:net';

/**
 * Which outside services the tests can use. Probed once by the global setup and passed to every
 * test file through the environment; `REQUIRE_SERVICES=1` turns a missing one into a failure.
 */
export const TEST_PG_URL = process.env.TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
export const TEST_REDIS_URL = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';
export const CHROMIUM_PATH = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

export type Service = 'postgres' | 'redis' | 'chromium';

export function tcpReachable(url: string, timeoutMs = 1_000): Promise<boolean> {
  const u = new URL(url);
  return new Promise((resolve) => {
    const socket = createConnection({ host: u.hostname, port: Number(u.port) }, () => {
      socket.destroy();
      resolve(true);
    });
    socket.setTimeout(timeoutMs, () => {
      socket.destroy();
      resolve(false);
    });
    socket.on('error', () => resolve(false));
  });
}

export async function probeServices(): Promise<Record<Service, boolean>> {
  const [postgres, redis] = await Promise.all([tcpReachable(TEST_PG_URL), tcpReachable(TEST_REDIS_URL)]);
  return { postgres, redis, chromium: existsSync(CHROMIUM_PATH) };
}

/** True when the global setup found the service. Use with describe.skipIf(!has('redis')). */
export function has(service: Service): boolean {
  return process.env[`VITTE_TEST_HAS_${service.toUpperCase()}`] === '1';
}

/** Removes every key under a test's Redis prefix (the shared test Redis is never flushed). */
export async function deleteRedisKeys(prefix: string): Promise<void> {
  const { Redis } = await import('ioredis');
  const redis = new Redis(TEST_REDIS_URL);
  try {
    const keys = await redis.keys(`${prefix}:*`);
    if (keys.length) await redis.del(...keys);
  } finally {
    redis.disconnect();
  }
}
