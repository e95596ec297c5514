import type { App } from '../app.js';
import type { LlmSource } from '../config.js';
import type { LlmStatus } from '../integrations/llm/llm-client.js';
import { errorMessage } from '../platform/errors.js';
import { type Check, checkDb, checkRedis } from '../platform/health.js';
import type { QueueCounts } from '../platform/queue/index.js';
import { type ImagesHealth, imagesHealth } from './images-health.js';

export interface BotHealth {
  mode: 'polling' | 'webhook';
  /**
   * When this process last received an update: null when none since it started; undefined when
   * updates are received by another process (`vitte bot`, `vitte api`), which exports it as
   * vitte_bot_last_update_timestamp_seconds.
   */
  lastUpdateAt: Date | null | undefined;
  /** Webhook mode: what Telegram reports about delivering to us. */
  webhook?:
    | { url: string; pendingUpdates: number; lastError: { at: Date; message: string } | undefined }
    | { error: string };
}

export interface SystemHealth {
  db: Check;
  redis: Check;
  queue: { kind: 'bullmq' | 'inline'; status: Check; counts: Record<string, QueueCounts> };
  llm: LlmStatus & { source: LlmSource };
  bot: BotHealth;
  images: ImagesHealth;
}

async function metricValues(app: App, name: string): Promise<number[] | undefined> {
  const metric = app.metrics.registry.getSingleMetric(name);
  if (!metric) return undefined;
  return (await metric.get()).values.map((v) => v.value);
}

async function botHealth(app: App): Promise<BotHealth> {
  const mode = app.config.BOT_MODE;
  // Both exist only where the bot runs; the gauge starts at the process start, so the count tells
  // "nothing received yet" apart from an update at that moment.
  const [updates, last] = await Promise.all([
    metricValues(app, 'vitte_bot_updates_total'),
    metricValues(app, 'vitte_bot_last_update_timestamp_seconds'),
  ]);
  const received = updates?.reduce((a, b) => a + b, 0);
  const lastUpdateAt =
    received === undefined ? undefined : received > 0 && last?.[0] ? new Date(last[0] * 1000) : null;
  if (mode !== 'webhook' || !app.telegramDirect) return { mode, lastUpdateAt };
  try {
    // grammY declares an AbortSignal shim of its own; at run time it takes the platform's.
    type Signal = Parameters<typeof app.telegramDirect.getWebhookInfo>[0];
    const info = await app.telegramDirect.getWebhookInfo(AbortSignal.timeout(3_000) as unknown as Signal);
    return {
      mode,
      lastUpdateAt,
      webhook: {
        url: info.url ?? '',
        pendingUpdates: info.pending_update_count,
        lastError:
          info.last_error_date && info.last_error_message
            ? { at: new Date(info.last_error_date * 1000), message: info.last_error_message }
            : undefined,
      },
    };
  } catch (err) {
    return { mode, lastUpdateAt, webhook: { error: errorMessage(err) } };
  }
}

/**
 * Live (uncached) health for the dashboard: database, Redis, the depth of every queue, the AI
 * provider as this process sees it, the bot's intake, and the ComfyUI backends.
 */
export async function systemHealth(app: App): Promise<SystemHealth> {
  const [db, redis, queue, bot, images] = await Promise.all([
    checkDb(app.database),
    checkRedis(app.redis),
    app.queue.counts().then(
      (counts) => ({ status: { status: 'ok' } as Check, counts }),
      (err: unknown) => ({ status: { status: 'error', reason: errorMessage(err) } as Check, counts: {} }),
    ),
    botHealth(app),
    imagesHealth(app),
  ]);
  return {
    db,
    redis,
    queue: { kind: app.queue.kind, ...queue },
    llm: { ...app.llm.status(), source: app.config.llmSource },
    bot,
    images,
  };
}

function statusOnly(c: Check): Check {
  return c.status === 'error' ? { status: 'error', reason: 'unavailable' } : c;
}

/**
 * What a viewer sees: whether each dependency is up, not why not — an error's text names the
 * servers' addresses and ports, which stay with admins.
 */
export function healthSummary(h: SystemHealth): SystemHealth {
  return {
    ...h,
    db: statusOnly(h.db),
    redis: statusOnly(h.redis),
    queue: { ...h.queue, status: statusOnly(h.queue.status) },
  };
}
