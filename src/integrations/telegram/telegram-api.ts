import { autoRetry } from '@grammyjs/auto-retry';
import { Api, type RawApi, type Transformer } from 'grammy';
import type { Logger } from '../../platform/logger.js';
import { LATENCY_BUCKETS, type Metrics } from '../../platform/metrics.js';
import { classifyTelegramError } from './telegram-errors.js';

export interface TelegramApiOptions {
  token: string;
  apiRoot: string;
  /** Retries after 429/5xx/network errors; 0 leaves failures to the caller (broadcast delivery). */
  maxRetries: number;
  logger: Logger;
  metrics: Metrics;
  /** Telegram said the user blocked the bot while sending to this chat (see classifyTelegramError). */
  onBlocked: (chatId: number) => Promise<unknown>;
}

/**
 * Wraps an Api with what every Vitte call to Telegram needs: per-call metrics (every HTTP attempt),
 * bounded automatic retries, and the "user blocked the bot" bookkeeping on the final answer.
 */
export function installTransformers(api: Api, opts: Omit<TelegramApiOptions, 'token' | 'apiRoot'>): Api {
  const calls = opts.metrics.counter({
    name: 'vitte_telegram_requests_total',
    help: 'Bot API calls by method and result (ok or the error code)',
    labelNames: ['method', 'result'],
  });
  const duration = opts.metrics.histogram({
    name: 'vitte_telegram_request_duration_seconds',
    help: 'Bot API call duration by method',
    labelNames: ['method'],
    buckets: LATENCY_BUCKETS,
  });
  const log = opts.logger.child({ component: 'telegram' });

  const measure: Transformer<RawApi> = async (prev, method, payload, signal) => {
    const end = duration.startTimer({ method });
    try {
      const res = await prev(method, payload, signal);
      calls.inc({ method, result: res.ok ? 'ok' : String(res.error_code) });
      const failure = res.ok ? undefined : classifyTelegramError(res);
      if (failure?.kind === 'rate_limited') {
        log.warn({ method, retryAfterMs: failure.retryAfterMs }, 'telegram flood control');
      }
      return res;
    } catch (err) {
      calls.inc({ method, result: 'network' });
      throw err;
    } finally {
      end();
    }
  };

  const blocked: Transformer<RawApi> = async (prev, method, payload, signal) => {
    const res = await prev(method, payload, signal);
    if (!res.ok && classifyTelegramError(res).kind === 'blocked') {
      const chatId = (payload as { chat_id?: unknown }).chat_id;
      if (typeof chatId === 'number' && chatId > 0) {
        await opts
          .onBlocked(chatId)
          .catch((err: unknown) => log.error({ err, chatId }, 'marking blocked user failed'));
      }
    }
    return res;
  };

  api.config.use(measure);
  if (opts.maxRetries > 0) {
    api.config.use(autoRetry({ maxRetryAttempts: opts.maxRetries, maxDelaySeconds: 60 }));
  }
  api.config.use(blocked);
  return api;
}

/** An Api client for processes that send without receiving (workers). */
export function createTelegramApi(opts: TelegramApiOptions): Api {
  return installTransformers(new Api(opts.token, { apiRoot: opts.apiRoot }), opts);
}
