import { checkDb, checkRedis } from '../api/routes/health.routes.js';
import type { App } from '../app.js';
import { errorMessage } from '../platform/errors.js';
import type { QueueCounts } from '../platform/queue/index.js';
import { type ImagesHealth, imagesHealth } from './images-health.js';

type Check = Awaited<ReturnType<typeof checkDb>>;

export interface SystemHealth {
  db: Check;
  redis: Check;
  queue: { kind: 'bullmq' | 'inline'; status: Check; counts: Record<string, QueueCounts> };
  images: ImagesHealth;
}

/** Live (uncached) health for the dashboard: database, Redis, the depth of every queue, ComfyUI. */
export async function systemHealth(app: App): Promise<SystemHealth> {
  const [db, redis, queue, images] = await Promise.all([
    checkDb(app),
    checkRedis(app),
    app.queue.counts().then(
      (counts) => ({ status: { status: 'ok' } as Check, counts }),
      (err: unknown) => ({ status: { status: 'error', reason: errorMessage(err) } as Check, counts: {} }),
    ),
    imagesHealth(app),
  ]);
  return { db, redis, queue: { kind: app.queue.kind, ...queue }, images };
}
