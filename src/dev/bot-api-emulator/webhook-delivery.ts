import type { Update, WebhookInfo } from 'grammy/types';
import type { Logger } from 'pino';
import type { WebhookRetry } from './types.js';
import { type QueueEntry, type UpdateQueue, updateChatId } from './update-queue.js';

export interface WebhookSettings {
  url: string;
  secretToken?: string;
  maxConnections: number;
}

export interface WebhookHooks {
  /** A delivery failed; the update stays queued and is retried after a backoff. */
  onError(message: string): void;
  /** The endpoint answered with a method call in its body (Telegram's "webhook reply"). */
  onReply(method: string, params: Record<string, unknown>): void;
}

/** Telegram keeps the updates of one chat in order. */
function orderKey(update: Update): string {
  return String(updateChatId(update) ?? 'none');
}

function networkErrorMessage(err: unknown): string {
  const e = err as { name?: string; message?: string; cause?: { code?: string; message?: string } };
  if (e.name === 'TimeoutError' || e.name === 'AbortError') return 'Read timeout expired';
  if (e.cause?.code === 'ECONNREFUSED') return 'Connection refused';
  if (e.cause?.code === 'ECONNRESET') return 'Connection reset by peer';
  if (e.cause?.code === 'ENOTFOUND') return 'Failed to resolve host: Name or service not known';
  return e.cause?.message ?? e.message ?? 'Connection error';
}

/**
 * POSTs queued updates to the webhook like Telegram: the secret header when set, updates of one
 * chat strictly in order (up to `max_connections` chats at once), failures retried with backoff
 * and reported in getWebhookInfo's `last_error_*`.
 */
export class WebhookDelivery {
  private settings: WebhookSettings | undefined;
  private generation = 0;
  private readonly inFlight = new Set<QueueEntry>();
  private pausedUntil = 0;
  private delayMs = 0;
  private timer: NodeJS.Timeout | undefined;
  private readonly abort = new AbortController();
  private closed = false;
  lastErrorDate: number | undefined;
  lastErrorMessage: string | undefined;

  constructor(
    private readonly queue: UpdateQueue,
    private readonly retry: () => WebhookRetry,
    private readonly hooks: WebhookHooks,
    private readonly logger: Logger | undefined,
  ) {
    queue.onPush(() => this.pump());
  }

  get active(): boolean {
    return this.settings !== undefined;
  }

  set(settings: WebhookSettings): void {
    const changed = this.settings?.url !== settings.url;
    this.settings = settings;
    this.generation += 1;
    if (changed) {
      this.lastErrorDate = undefined;
      this.lastErrorMessage = undefined;
    }
    this.pausedUntil = 0;
    this.delayMs = 0;
    this.pump();
  }

  clear(): void {
    this.settings = undefined;
    this.generation += 1;
    this.lastErrorDate = undefined;
    this.lastErrorMessage = undefined;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
  }

  info(allowedUpdates: string[] | undefined): WebhookInfo {
    const base: WebhookInfo = {
      url: '',
      has_custom_certificate: false,
      pending_update_count: this.queue.pendingCount,
    };
    if (!this.settings) return base;
    return {
      ...base,
      url: this.settings.url,
      max_connections: this.settings.maxConnections,
      ip_address: '127.0.0.1',
      ...(this.lastErrorDate !== undefined ? { last_error_date: this.lastErrorDate } : {}),
      ...(this.lastErrorMessage !== undefined ? { last_error_message: this.lastErrorMessage } : {}),
      ...(allowedUpdates ? { allowed_updates: allowedUpdates as WebhookInfo['allowed_updates'] } : {}),
    };
  }

  /** Starts every delivery that ordering, max_connections and the backoff allow. */
  pump(): void {
    const settings = this.settings;
    if (!settings || this.closed) return;
    const now = Date.now();
    if (now < this.pausedUntil) {
      this.timer ??= setTimeout(() => {
        this.timer = undefined;
        this.pump();
      }, this.pausedUntil - now);
      return;
    }
    const busy = new Set<string>();
    for (const entry of this.queue.entries) {
      if (this.inFlight.size >= settings.maxConnections) break;
      const key = orderKey(entry.record.update);
      if (busy.has(key)) continue;
      busy.add(key);
      if (!entry.inFlight) void this.deliver(entry, settings);
    }
  }

  private async deliver(entry: QueueEntry, settings: WebhookSettings): Promise<void> {
    const generation = this.generation;
    entry.inFlight = true;
    this.inFlight.add(entry);
    let failure: string | undefined;
    try {
      const res = await fetch(settings.url, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          ...(settings.secretToken ? { 'x-telegram-bot-api-secret-token': settings.secretToken } : {}),
        },
        body: JSON.stringify(entry.record.update),
        signal: AbortSignal.any([this.abort.signal, AbortSignal.timeout(this.retry().timeoutMs)]),
      });
      const body = await res.text();
      if (res.ok) {
        this.queue.remove(entry);
        entry.record.delivered = true;
        this.handleReply(body);
      } else {
        failure = `Wrong response from the webhook: ${res.status} ${res.statusText}`.trim();
      }
    } catch (err) {
      failure = networkErrorMessage(err);
    } finally {
      entry.inFlight = false;
      this.inFlight.delete(entry);
    }
    if (this.closed) return;
    if (failure !== undefined && generation === this.generation) this.fail(failure);
    else if (failure === undefined) this.delayMs = 0;
    this.pump();
  }

  private fail(message: string): void {
    const { initialMs, maxMs } = this.retry();
    this.delayMs = this.delayMs === 0 ? initialMs : Math.min(maxMs, this.delayMs * 2);
    this.pausedUntil = Date.now() + this.delayMs;
    this.lastErrorDate = Math.floor(Date.now() / 1000);
    this.lastErrorMessage = message;
    this.logger?.debug({ message, retryInMs: this.delayMs }, 'webhook delivery failed');
    this.hooks.onError(message);
  }

  private handleReply(body: string): void {
    if (!body.trim().startsWith('{')) return;
    try {
      const parsed = JSON.parse(body) as Record<string, unknown>;
      if (typeof parsed.method === 'string') {
        const { method, ...params } = parsed;
        this.hooks.onReply(method, params);
      }
    } catch {
      // A non-JSON 2xx body is fine: Telegram ignores it too.
    }
  }

  close(): void {
    this.closed = true;
    this.abort.abort();
    if (this.timer) clearTimeout(this.timer);
  }
}
