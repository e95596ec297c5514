import type { App } from '../app.js';
import { errorMessage } from '../platform/errors.js';
import { type Check, checkDb, checkRedis } from '../platform/health.js';
import type { QueueCounts } from '../platform/queue/index.js';

export interface SystemHealth {
  db: Check;
  redis: Check;
  queue: { kind: 'bullmq' | 'inline'; status: Check; counts: Record<string, QueueCounts> };
}

/** Live (uncached) health for the dashboard: database, Redis and the depth of every queue. */
export async function systemHealth(app: App): Promise<SystemHealth> {
  const [db, redis, queue] = await Promise.all([
    checkDb(app.database),
    checkRedis(app.redis),
    app.queue.counts().then(
      (counts) => ({ status: { status: 'ok' } as Check, counts }),
      (err: unknown) => ({ status: { status: 'error', reason: errorMessage(err) } as Check, counts: {} }),
    ),
  ]);
  return { db, redis, queue: { kind: app.queue.kind, ...queue } };
}
