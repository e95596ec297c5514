import type { BotCommand, Update, UserFromGetMe, WebhookInfo } from 'grammy/types';
import type { CheckoutInput, CheckoutResult } from './payment-flows.js';
import type {
  ActiveFault,
  CallbackAnswerRecord,
  CallRecord,
  ChatActionRecord,
  ConversationMessage,
  ConversationView,
  DraftRecord,
  EmulatorConfig,
  EmulatorEvent,
  EmulatorStats,
  FaultSpec,
  FloodLimits,
  InjectedUpdateRecord,
  InvoiceRecord,
  PaymentRecord,
  PreCheckoutAnswerRecord,
  RefundRecord,
  StarSubscriptionRecord,
  WebhookRetry,
} from './types.js';
import type {
  InjectCallbackQueryInput,
  InjectMessageInput,
  InjectPreCheckoutQueryInput,
  InjectSuccessfulPaymentInput,
} from './update-factory.js';

/** A control request the emulator refused (bad input, unknown chat…). */
export class EmulatorClientError extends Error {
  override name = 'EmulatorClientError';
  constructor(
    message: string,
    readonly status: number,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

export interface CallQuery {
  method?: string;
  chatId?: number;
  /** Only calls recorded after this `seq`. */
  since?: number;
}

export interface WaitOptions {
  /** Give up after this long (default 10 s). */
  timeoutMs?: number;
  /** Poll interval (default 20 ms). */
  intervalMs?: number;
}

export interface EmulatorInfo {
  bot: UserFromGetMe;
  webhook: WebhookInfo;
  config: EmulatorConfig;
  methods: string[];
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const byUser = (userId: number | undefined) => (userId === undefined ? '' : `?user_id=${userId}`);

/**
 * Typed client of the emulator's control API (`/_emulator/…`), for tests and benchmarks in any
 * process. Update inputs use Telegram's snake_case fields; emulator settings use camelCase.
 */
export class EmulatorClient {
  private readonly base: string;

  constructor(baseUrl: string) {
    this.base = baseUrl.replace(/\/+$/, '');
  }

  private async request<T>(method: string, path: string, body?: unknown): Promise<T> {
    const res = await fetch(`${this.base}/_emulator${path}`, {
      method,
      ...(body === undefined
        ? {}
        : { headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) }),
    });
    const text = await res.text();
    const parsed = text === '' ? undefined : (JSON.parse(text) as unknown);
    if (!res.ok) {
      const message = (parsed as { error?: string } | undefined)?.error ?? res.statusText;
      throw new EmulatorClientError(`${method} ${path}: ${message}`, res.status);
    }
    return parsed as T;
  }

  info(): Promise<EmulatorInfo> {
    return this.request('GET', '/info');
  }

  /** A user writes to the bot; `/command payload` texts get a bot_command entity. */
  injectMessage(input: InjectMessageInput): Promise<Update> {
    return this.request('POST', '/updates/message', input);
  }

  /** A user presses an inline button with `data` on the bot's message `message_id`. */
  injectCallbackQuery(input: InjectCallbackQueryInput): Promise<Update> {
    return this.request('POST', '/updates/callback-query', input);
  }

  /** Only the query: the bot must answer it within the pre-checkout timeout (10 s) to be accepted. */
  injectPreCheckoutQuery(input: InjectPreCheckoutQueryInput): Promise<Update> {
    return this.request('POST', '/updates/pre-checkout-query', input);
  }

  /**
   * The user pays an invoice message (`message_id`) or link (`invoice_link`) as on Telegram: a
   * pre_checkout_query, and only if the bot accepts it in time, the charge and its
   * successful_payment. Resolves when the payment is done, declined or timed out.
   */
  checkout(input: CheckoutInput): Promise<CheckoutResult> {
    return this.request('POST', '/payments/checkout', input);
  }

  /**
   * A successful_payment without checkout, for any payload (orphans). `subscription_period:
   * 2592000` starts a Star subscription; a known charge id delivers that charge once more.
   */
  injectSuccessfulPayment(input: InjectSuccessfulPaymentInput): Promise<Update> {
    return this.request('POST', '/updates/successful-payment', input);
  }

  /** The same charge in a new update and message (Telegram delivering a payment twice). */
  duplicateSuccessfulPayment(telegramPaymentChargeId: string): Promise<Update> {
    return this.request('POST', '/updates/successful-payment/duplicate', {
      telegram_payment_charge_id: telegramPaymentChargeId,
    });
  }

  /**
   * The next period of a Star subscription (its id or any of its charges' ids): a new charge with
   * `is_recurring` and the next expiration date. Fails with 409 once the bot cancelled it.
   */
  renewSubscription(telegramPaymentChargeId: string): Promise<Update> {
    return this.request('POST', '/updates/subscription-renewal', {
      telegram_payment_charge_id: telegramPaymentChargeId,
    });
  }

  /** Any update JSON; a given `update_id` is kept, so duplicates can be injected. */
  injectUpdate(update: Record<string, unknown>): Promise<Update> {
    return this.request('POST', '/updates', update);
  }

  /** Sends an earlier update again with the same update_id, as Telegram re-sends after a failure. */
  redeliverUpdate(updateId: number): Promise<Update> {
    return this.request('POST', '/updates/redeliver', { update_id: updateId });
  }

  updates(): Promise<InjectedUpdateRecord[]> {
    return this.request('GET', '/updates');
  }

  calls(query: CallQuery = {}): Promise<CallRecord[]> {
    const q = new URLSearchParams();
    if (query.method) q.set('method', query.method);
    if (query.chatId !== undefined) q.set('chat_id', String(query.chatId));
    if (query.since !== undefined) q.set('since', String(query.since));
    const qs = q.toString();
    return this.request('GET', `/calls${qs ? `?${qs}` : ''}`);
  }

  chats(): Promise<
    { chat: ConversationView['chat']; messages: number; last_message?: ConversationMessage }[]
  > {
    return this.request('GET', '/chats');
  }

  /** Both sides of a chat with current text/markup, edit history and deleted flags, plus drafts. */
  conversation(chatId: number): Promise<ConversationView> {
    return this.request('GET', `/chats/${chatId}/messages`);
  }

  /** The bot's messages in a chat (not deleted), oldest first; empty when the chat is unknown. */
  async botMessages(chatId: number): Promise<ConversationMessage[]> {
    try {
      const view = await this.conversation(chatId);
      return view.messages.filter((m) => m.outgoing && !m.deleted);
    } catch (err) {
      if (err instanceof EmulatorClientError && err.status === 404) return [];
      throw err;
    }
  }

  drafts(chatId?: number): Promise<DraftRecord[]> {
    return this.request('GET', `/drafts${chatId === undefined ? '' : `?chat_id=${chatId}`}`);
  }

  chatActions(chatId?: number): Promise<ChatActionRecord[]> {
    return this.request('GET', `/chat-actions${chatId === undefined ? '' : `?chat_id=${chatId}`}`);
  }

  invoices(chatId?: number): Promise<InvoiceRecord[]> {
    return this.request('GET', `/invoices${chatId === undefined ? '' : `?chat_id=${chatId}`}`);
  }

  /** The invoice createInvoiceLink made for this link, if any. */
  async invoiceByLink(link: string): Promise<InvoiceRecord | undefined> {
    const [invoice] = await this.request<InvoiceRecord[]>(
      'GET',
      `/invoices?link=${encodeURIComponent(link)}`,
    );
    return invoice;
  }

  /** The charge ledger, oldest first: every successful payment, refunded or not. */
  payments(userId?: number): Promise<PaymentRecord[]> {
    return this.request('GET', `/payments${byUser(userId)}`);
  }

  refunds(userId?: number): Promise<RefundRecord[]> {
    return this.request('GET', `/refunds${byUser(userId)}`);
  }

  subscriptions(userId?: number): Promise<StarSubscriptionRecord[]> {
    return this.request('GET', `/subscriptions${byUser(userId)}`);
  }

  callbackAnswers(): Promise<CallbackAnswerRecord[]> {
    return this.request('GET', '/callback-answers');
  }

  /** Every answer the bot gave, with its latency; refused ones (late, repeated) have `accepted: false`. */
  preCheckoutAnswers(userId?: number): Promise<PreCheckoutAnswerRecord[]> {
    return this.request('GET', `/pre-checkout-answers${byUser(userId)}`);
  }

  commands(): Promise<{ scope: Record<string, unknown>; language_code: string; commands: BotCommand[] }[]> {
    return this.request('GET', '/commands');
  }

  config(): Promise<EmulatorConfig> {
    return this.request('GET', '/config');
  }

  /** Changes flood limits (`null` turns one off), the webhook retry backoff, the pre-checkout timeout. */
  configure(change: {
    flood?: Partial<FloodLimits>;
    webhookRetry?: Partial<WebhookRetry>;
    preCheckoutTimeoutMs?: number;
  }): Promise<EmulatorConfig> {
    return this.request('PUT', '/config', change);
  }

  setFloodLimits(flood: Partial<FloodLimits>): Promise<EmulatorConfig> {
    return this.configure({ flood });
  }

  /**
   * The next `count` matching calls fail with this error (e.g. `{ errorCode: 429, retryAfter: 3 }`);
   * `applied: true` fails them after they took effect, `delayMs` answers late.
   */
  injectFault(spec: FaultSpec): Promise<ActiveFault> {
    return this.request('POST', '/faults', spec);
  }

  faults(): Promise<ActiveFault[]> {
    return this.request('GET', '/faults');
  }

  async clearFaults(): Promise<void> {
    await this.request('DELETE', '/faults');
  }

  /** From now on sends to this user fail with 403; `notify` also injects the my_chat_member update. */
  async blockUser(userId: number, opts: { notify?: boolean } = {}): Promise<void> {
    await this.request('PUT', `/blocked/${userId}`, { notify: opts.notify === true });
  }

  async unblockUser(userId: number, opts: { notify?: boolean } = {}): Promise<void> {
    await this.request('DELETE', `/blocked/${userId}${opts.notify ? '?notify=true' : ''}`);
  }

  blockedUsers(): Promise<number[]> {
    return this.request('GET', '/blocked');
  }

  async reset(): Promise<void> {
    await this.request('POST', '/reset');
  }

  stats(): Promise<EmulatorStats> {
    return this.request('GET', '/stats');
  }

  /** Polls until `check` returns a value other than undefined; throws after the timeout. */
  async waitFor<T>(check: () => Promise<T | undefined>, what: string, opts: WaitOptions = {}): Promise<T> {
    const deadline = Date.now() + (opts.timeoutMs ?? 10_000);
    for (;;) {
      const value = await check();
      if (value !== undefined) return value;
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
      await sleep(opts.intervalMs ?? 20);
    }
  }

  /** Waits until at least `count` calls match (default 1) and returns them all. */
  waitForCalls(query: CallQuery, count = 1, opts: WaitOptions = {}): Promise<CallRecord[]> {
    return this.waitFor(
      async () => {
        const list = await this.calls(query);
        return list.length >= count ? list : undefined;
      },
      `${count} call(s) of ${query.method ?? 'any method'}${query.chatId === undefined ? '' : ` in chat ${query.chatId}`}`,
      opts,
    );
  }

  /** Waits until the bot has a (not deleted) message in the chat that satisfies `predicate`. */
  waitForBotMessage(
    chatId: number,
    predicate: (m: ConversationMessage) => boolean = () => true,
    opts: WaitOptions = {},
  ): Promise<ConversationMessage> {
    return this.waitFor(
      async () => (await this.botMessages(chatId)).find(predicate),
      `a bot message in chat ${chatId}`,
      opts,
    );
  }

  /** Waits until every injected update has been handed to the bot (webhook accepted or polled). */
  waitForDelivery(opts: WaitOptions = {}): Promise<true> {
    return this.waitFor(
      async () => ((await this.updates()).every((u) => u.delivered || u.filtered) ? true : undefined),
      'update delivery',
      opts,
    );
  }

  /** Follows the Server-Sent Events (of one chat, when given) until `signal` aborts. */
  async *events(opts: { chatId?: number; signal?: AbortSignal } = {}): AsyncGenerator<EmulatorEvent> {
    const qs = opts.chatId === undefined ? '' : `?chat_id=${opts.chatId}`;
    const res = await fetch(`${this.base}/_emulator/events${qs}`, opts.signal ? { signal: opts.signal } : {});
    if (!res.ok || !res.body) throw new EmulatorClientError(`GET /events: ${res.statusText}`, res.status);
    const decoder = new TextDecoder();
    let buffer = '';
    const reader = res.body.getReader();
    try {
      for (;;) {
        const { done, value } = await reader.read();
        if (done) return;
        buffer += decoder.decode(value, { stream: true });
        let end = buffer.indexOf('\n\n');
        while (end >= 0) {
          const block = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          const data = block
            .split('\n')
            .filter((l) => l.startsWith('data: '))
            .map((l) => l.slice(6))
            .join('\n');
          if (data) yield JSON.parse(data) as EmulatorEvent;
          end = buffer.indexOf('\n\n');
        }
      }
    } catch (err) {
      if (opts.signal?.aborted) return;
      throw err;
    } finally {
      // Ends the HTTP stream when the consumer stops early (break or return).
      await reader.cancel().catch(() => {});
    }
  }
}
