import { createConcurrentSink, createRunner, createSource, createUpdateFetcher } from '@grammyjs/runner';
import { type Bot, BotError } from 'grammy';
import type { Update } from 'grammy/types';
import { RetryLaterError } from '../platform/errors.js';
import type { BotContext, BotDeps } from './context.js';
import { ALLOWED_UPDATES, publishCommands } from './index.js';

const RETRY_FIRST_MS = 500;
const RETRY_MAX_MS = 30_000;
/** How long a fetch waits for the previous batch to be handled before it confirms it anyway. */
const SETTLE_MS = 1_000;

function retryLater(err: unknown): boolean {
  return (err instanceof BotError ? err.error : err) instanceof RetryLaterError;
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal.addEventListener('abort', done, { once: true });
  });
}

/**
 * Long polling with grammY's runner (concurrent across chats, sequential within one).
 *
 * Telegram takes an update as confirmed once getUpdates asks for a later offset, so the next fetch
 * waits for the batch before it to be handled (up to SETTLE_MS: a slow update must not stall every
 * chat). While updates are deferred (the database is down, or a crashed poller's claim has not
 * lapsed yet) nothing more is fetched: the deferred ones are retried here, in update order, with a
 * growing pause, and their batch stays unconfirmed — should this process stop or die meanwhile,
 * Telegram hands them to the next poller. Fetching resumes once they are all handled. (An update
 * still running after SETTLE_MS is confirmed; if it is then deferred, it is retried here and lost
 * only if this process dies before the database is back.)
 *
 * Returns the stop function: it stops fetching and waits for the updates in progress.
 */
export async function startPolling(bot: Bot<BotContext>, deps: Pick<BotDeps, 'i18n' | 'logger'>) {
  await bot.init();
  // getUpdates refuses to work while a webhook is set; polling mode means we own the updates.
  const info = await bot.api.getWebhookInfo();
  if (info.url) {
    deps.logger.warn({ url: info.url }, 'removing the webhook to receive updates by polling');
    await bot.api.deleteWebhook();
  }
  await publishCommands(bot.api, deps);

  const deferred = new Map<number, Update>();
  const handling = new Set<Promise<void>>();
  const stopping = new AbortController();
  /** Retry the deferred updates until none is left (or the poller stops: they stay unconfirmed). */
  const drain = async (signal: AbortSignal) => {
    let pause = RETRY_FIRST_MS;
    while (deferred.size && !signal.aborted && !stopping.signal.aborted) {
      await sleep(pause, signal);
      pause = Math.min(pause * 2, RETRY_MAX_MS);
      for (const id of [...deferred.keys()].sort((a, b) => a - b)) {
        if (signal.aborted || stopping.signal.aborted) return;
        const update = deferred.get(id)!;
        try {
          await bot.handleUpdate(update);
          deferred.delete(id);
        } catch (err) {
          if (retryLater(err)) continue;
          deferred.delete(id);
          await bot.errorHandler(err as BotError<BotContext>);
        }
      }
    }
  };

  const fetchUpdates = createUpdateFetcher(bot, {
    fetch: { allowed_updates: [...ALLOWED_UPDATES] },
    retryInterval: 'exponential',
  });
  const source = createSource<Update>({
    supply: async (batchSize, signal) => {
      // The runner's signal is the abort-controller polyfill: the same `aborted` and abort event.
      const aborted = signal as unknown as AbortSignal;
      if (handling.size) await Promise.race([Promise.allSettled(handling), sleep(SETTLE_MS, aborted)]);
      if (deferred.size) {
        deps.logger.warn(
          { deferred: deferred.size },
          'updates deferred: fetching paused until they are handled',
        );
        await drain(aborted);
        if (!deferred.size) deps.logger.info('deferred updates handled; fetching again');
      }
      return fetchUpdates(batchSize, signal);
    },
  });
  const sink = createConcurrentSink<Update, BotError<BotContext>>(
    {
      consume: async (update) => {
        const handled = bot.handleUpdate(update).catch((err: unknown) => {
          if (!retryLater(err)) throw err;
          deferred.set(update.update_id, update);
        });
        const settled = handled.then(
          () => undefined,
          () => undefined,
        );
        handling.add(settled);
        try {
          await handled;
        } finally {
          handling.delete(settled);
        }
      },
    },
    async (error) => {
      await bot.errorHandler(error);
    },
  );
  const handle = createRunner(source, sink);
  handle.start();
  deps.logger.info({ bot: bot.botInfo.username }, 'polling for updates');
  return async () => {
    stopping.abort();
    if (handle.isRunning()) await handle.stop();
    if (deferred.size)
      deps.logger.warn({ deferred: deferred.size }, 'stopped with deferred updates: Telegram re-sends them');
  };
}
