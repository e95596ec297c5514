import type { Update, UserFromGetMe } from 'grammy/types';
import type { Logger } from 'pino';
import { CallDispatcher } from './call-dispatcher.js';
import { CallLog } from './call-log.js';
import { ControlError } from './control-input.js';
import { EventHub } from './event-hub.js';
import { FaultInjector } from './fault-injector.js';
import { FloodControl } from './flood-control.js';
import { PaymentFlows } from './payment-flows.js';
import { StateStore } from './state-store.js';
import type { EmulatorConfig, EmulatorStats, FloodLimits, WebhookRetry } from './types.js';
import { UpdateFactory } from './update-factory.js';
import { UpdateQueue, updateChatId } from './update-queue.js';
import { WebhookDelivery } from './webhook-delivery.js';

export interface CoreOptions {
  botUser: UserFromGetMe;
  logger: Logger | undefined;
  flood: Partial<FloodLimits>;
  webhookRetry: Partial<WebhookRetry>;
  maxRecordedCalls: number;
  maxFileBytes: number;
  preCheckoutTimeoutMs: number;
  firstMessageId: number;
}

const DEFAULT_RETRY: WebhookRetry = { initialMs: 1_000, maxMs: 30_000, timeoutMs: 30_000 };

/** Telegram gives the bot 10 seconds to answer a pre-checkout query. */
export const PRE_CHECKOUT_TIMEOUT_MS = 10_000;

/** The emulator without HTTP: state, queue, delivery, simulations and the operations on them. */
export class EmulatorCore {
  readonly store: StateStore;
  readonly queue = new UpdateQueue();
  readonly calls: CallLog;
  readonly faults = new FaultInjector();
  readonly flood: FloodControl;
  readonly events: EventHub;
  readonly webhook: WebhookDelivery;
  readonly dispatcher: CallDispatcher;
  readonly factory: UpdateFactory;
  readonly payments: PaymentFlows;
  private retry: WebhookRetry;
  private preCheckoutTimeoutMs: number;
  private readonly closing = new AbortController();

  constructor(private readonly opts: CoreOptions) {
    this.store = new StateStore(opts.botUser, opts.maxFileBytes, opts.firstMessageId);
    this.events = new EventHub(() => this.store.nextSeq());
    this.calls = new CallLog(opts.maxRecordedCalls);
    this.flood = new FloodControl(opts.flood);
    this.retry = { ...DEFAULT_RETRY, ...opts.webhookRetry };
    this.preCheckoutTimeoutMs = opts.preCheckoutTimeoutMs;
    this.factory = new UpdateFactory(this.store, () => this.queue.nextUpdateId());
    this.payments = new PaymentFlows({
      store: this.store,
      factory: this.factory,
      deliver: (update) => this.deliver(update),
      events: this.events,
      logger: opts.logger,
      preCheckoutTimeoutMs: () => this.preCheckoutTimeoutMs,
    });
    this.webhook = new WebhookDelivery(
      this.queue,
      () => this.retry,
      {
        onError: (message) => this.events.emit('webhook_error', undefined, { message }),
        onReply: (method, params) => {
          void this.dispatcher.call(method, params);
        },
      },
      opts.logger,
    );
    this.dispatcher = new CallDispatcher({
      store: this.store,
      queue: this.queue,
      webhook: this.webhook,
      events: this.events,
      calls: this.calls,
      faults: this.faults,
      flood: this.flood,
      payments: this.payments,
      logger: opts.logger,
      closing: this.closing.signal,
    });
  }

  /** Queues an update for the bot (webhook or getUpdates) and announces it. */
  deliver(update: Update): Update {
    this.queue.push(update);
    this.events.emit('update', updateChatId(update), { update });
    return update;
  }

  /** Queues an update handed out before once more, with the same update_id (Telegram re-sending it). */
  redeliver(updateId: number): Update {
    const record = this.queue.log.findLast((r) => r.update.update_id === updateId);
    if (!record) throw new ControlError('update not found', 404);
    return this.deliver(record.update);
  }

  setBlocked(userId: number, blocked: boolean, notify: boolean): void {
    const was = this.store.blocked.has(userId);
    if (blocked) this.store.blocked.add(userId);
    else this.store.blocked.delete(userId);
    if (notify && was !== blocked) this.deliver(this.factory.blockChange(userId, blocked));
  }

  config(): EmulatorConfig {
    return {
      flood: this.flood.config,
      webhookRetry: { ...this.retry },
      preCheckoutTimeoutMs: this.preCheckoutTimeoutMs,
    };
  }

  configure(change: {
    flood?: Partial<FloodLimits>;
    webhookRetry?: Partial<WebhookRetry>;
    preCheckoutTimeoutMs?: number;
  }): EmulatorConfig {
    if (change.flood) this.flood.configure(change.flood);
    if (change.webhookRetry) this.retry = { ...this.retry, ...change.webhookRetry };
    if (change.preCheckoutTimeoutMs !== undefined) this.preCheckoutTimeoutMs = change.preCheckoutTimeoutMs;
    return this.config();
  }

  stats(): EmulatorStats {
    return {
      total_calls: this.calls.total,
      calls_by_method: Object.fromEntries(this.calls.byMethod),
      errors_by_code: Object.fromEntries(this.calls.byErrorCode),
      too_many_requests: this.calls.errors(429),
      forbidden: this.calls.errors(403),
      updates_injected: this.queue.injected,
      pending_updates: this.queue.pendingCount,
      messages_sent: this.store.sentCount,
      chats: this.store.chats.size,
    };
  }

  /**
   * Forgets chats, calls, updates, payments, faults, blocked users and counters and restores the
   * settings given at creation. The webhook stays set: it is the bot's connection, not test data.
   */
  reset(): void {
    this.store.reset();
    this.payments.reset();
    this.queue.reset();
    this.calls.reset();
    this.faults.clear();
    this.flood.reset(this.opts.flood);
    this.retry = { ...DEFAULT_RETRY, ...this.opts.webhookRetry };
    this.preCheckoutTimeoutMs = this.opts.preCheckoutTimeoutMs;
    this.events.emit('reset', undefined, {});
  }

  close(): void {
    this.closing.abort();
    this.payments.reset();
    this.webhook.close();
    this.queue.releaseWaiters();
  }
}
