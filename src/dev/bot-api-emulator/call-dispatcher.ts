import { setTimeout as sleep } from 'node:timers/promises';
import type { Logger } from 'pino';
import { BotApiError, blockedByUser, DescribedResult, notFound, tooManyRequests } from './bot-api-error.js';
import type { CallLog } from './call-log.js';
import type { EventHub } from './event-hub.js';
import type { FaultInjector, TakenFault } from './fault-injector.js';
import { type FloodControl, isFloodLimited } from './flood-control.js';
import { botMethods } from './methods/bot.methods.js';
import { mediaMethods } from './methods/media.methods.js';
import { messageMethods } from './methods/message.methods.js';
import type { MethodHandler } from './methods/method-context.js';
import { paymentMethods } from './methods/payment.methods.js';
import { updateMethods } from './methods/update.methods.js';
import { Params, recordableParams, targetChatId } from './params.js';
import type { PaymentFlows } from './payment-flows.js';
import type { StateStore } from './state-store.js';
import type { UpdateQueue } from './update-queue.js';
import type { WebhookDelivery } from './webhook-delivery.js';

export interface DispatcherDeps {
  store: StateStore;
  queue: UpdateQueue;
  webhook: WebhookDelivery;
  events: EventHub;
  calls: CallLog;
  faults: FaultInjector;
  flood: FloodControl;
  payments: PaymentFlows;
  logger: Logger | undefined;
  /** Aborted when the emulator closes, ending held (delayed) answers. */
  closing: AbortSignal;
}

export interface CallOutcome {
  status: number;
  body: Record<string, unknown>;
}

/** Methods that read a chat rather than write into it still work when the user blocked the bot. */
const IGNORES_BLOCK = new Set(['getchat']);

const ALL_METHODS: Record<string, MethodHandler> = {
  ...updateMethods,
  ...messageMethods,
  ...mediaMethods,
  ...botMethods,
  ...paymentMethods,
};

/**
 * Runs one Bot API call the way Telegram would: method lookup (case-insensitive), then injected
 * faults, blocked users and flood control, then the method itself; every call is recorded. A fault
 * marked `applied` answers with its error only after the method ran.
 */
export class CallDispatcher {
  private readonly methods = new Map<string, { name: string; handler: MethodHandler }>();

  constructor(private readonly deps: DispatcherDeps) {
    for (const [name, handler] of Object.entries(ALL_METHODS))
      this.methods.set(name.toLowerCase(), { name, handler });
  }

  get methodNames(): string[] {
    return [...this.methods.values()].map((m) => m.name);
  }

  async call(
    methodName: string,
    raw: Record<string, unknown>,
    onClientClose: (cb: () => void) => void = () => {},
  ): Promise<CallOutcome> {
    const { store, calls } = this.deps;
    const entry = this.methods.get(methodName.toLowerCase());
    const method = entry?.name ?? methodName;
    const chatId = targetChatId(raw);
    const seq = store.nextSeq();
    const at = Date.now();
    let outcome: CallOutcome;
    let result: unknown;
    let fault: TakenFault | undefined;
    try {
      if (!entry) throw notFound();
      fault = this.deps.faults.take(entry.name, chatId);
      if (fault && !fault.applied) await this.settle(fault);
      this.gate(entry.name, chatId);
      const value = await entry.handler({
        params: new Params(raw),
        store,
        queue: this.deps.queue,
        webhook: this.deps.webhook,
        events: this.deps.events,
        payments: this.deps.payments,
        onClientClose,
      });
      if (fault?.applied) await this.settle(fault);
      result = value instanceof DescribedResult ? value.result : value;
      outcome = {
        status: 200,
        body: {
          ok: true,
          result,
          ...(value instanceof DescribedResult ? { description: value.description } : {}),
        },
      };
    } catch (err) {
      const apiError = err instanceof BotApiError ? err : undefined;
      if (!apiError) this.deps.logger?.error({ err, method }, 'bot api emulator method failed');
      const e = apiError ?? new BotApiError(500, 'Internal Server Error', undefined, { cause: err });
      outcome = { status: e.errorCode, body: e.toJSON() };
    }
    calls.add({
      seq,
      at,
      method,
      ...(chatId !== undefined ? { chat_id: chatId } : {}),
      params: recordableParams(raw),
      ok: outcome.status === 200,
      ...(outcome.status === 200
        ? { result }
        : { error_code: outcome.status, description: String(outcome.body.description) }),
      ...(fault ? { fault: { id: fault.id, applied: fault.applied } } : {}),
    });
    return outcome;
  }

  /**
   * Holds the answer for the fault's delay, then throws its error if it has one. A hold cut short by
   * the emulator closing fails the call, so a delayed method never runs after the close.
   */
  private async settle(fault: TakenFault): Promise<void> {
    if (fault.delayMs > 0) {
      await sleep(fault.delayMs, undefined, { signal: this.deps.closing }).catch(() => {});
    }
    if (fault.error) throw fault.error;
    if (this.deps.closing.aborted) throw new BotApiError(500, 'Internal Server Error');
  }

  /** Throws the error Telegram would answer before running the method, if any. */
  private gate(method: string, chatId: number | undefined): void {
    const lower = method.toLowerCase();
    if (
      chatId !== undefined &&
      chatId > 0 &&
      this.deps.store.blocked.has(chatId) &&
      !IGNORES_BLOCK.has(lower)
    ) {
      throw blockedByUser();
    }
    if (isFloodLimited(lower)) {
      const retryAfter = this.deps.flood.acquire(chatId);
      if (retryAfter !== undefined) throw tooManyRequests(retryAfter);
    }
  }
}
