import {
  CircuitOpenError,
  LlmCancelledError,
  type LlmClient,
  LlmNotConfiguredError,
  LlmRequestError,
} from '../../integrations/llm/llm-client.js';
import type { Cache, InvalidationBus } from '../../platform/cache.js';
import type { Dialog, Message, User } from '../../platform/db/schema.js';
import type { Logger } from '../../platform/logger.js';
import type { Metrics } from '../../platform/metrics.js';
import type { DialogsRepository } from '../dialogs/dialogs.repository.js';
import type { DialogsService } from '../dialogs/dialogs.service.js';
import type { SettingsService } from '../settings/settings.service.js';
import type { SubscriptionsService } from '../subscriptions/subscriptions.service.js';
import { buildContext, splitForSummary, summaryRequest } from './context-builder.js';
import type { ReplyOutput, ReplyOutputFactory } from './reply-output.js';

export type AcceptResult =
  | { kind: 'queued'; dialogId: number; messageId: number }
  | { kind: 'quota_exceeded'; resetsAt: Date | null }
  | { kind: 'not_configured' };

export interface ChatServiceDeps {
  dialogs: DialogsService;
  dialogsRepo: DialogsRepository;
  subscriptions: SubscriptionsService;
  settings: SettingsService;
  users: { find(id: number): Promise<User | undefined> };
  llm: LlmClient;
  cache: Cache;
  bus: InvalidationBus;
  logger: Logger;
  metrics: Metrics;
  /** Enqueue `chat.reply` for a dialog (keyed by dialog: one generation in flight at a time). */
  enqueueReply: (dialogId: number) => Promise<void>;
  /** Enqueue `chat.summarize` for a dialog whose context no longer fits. */
  enqueueSummary: (dialogId: number) => Promise<void>;
  output: ReplyOutputFactory;
  contextTokens: number;
  maxAnswerTokens: number;
}

/** Where the incoming message came from (kept on the message to answer in the same chat). */
export interface Origin {
  chatId: number;
  chatType: string;
  telegramMessageId: number;
}

const GENERATING_TTL_MS = 10 * 60_000;
const STOP_TOPIC = 'chat-stop';

/**
 * The AI chat: accepting a message (quota, storage, queue) and generating the reply (context,
 * streaming, storage, refunds). Replies for one dialog run one at a time; messages that arrive
 * meanwhile are answered together by the next round of the same job.
 */
export class ChatService {
  private readonly running = new Map<number, AbortController>();
  private readonly m;

  constructor(private readonly d: ChatServiceDeps) {
    // /stop may arrive at another process: every process aborts its own generation for the dialog.
    d.bus.subscribe(STOP_TOPIC, (key) =>
      this.running.get(Number(key))?.abort(new Error('stopped by the user')),
    );
    this.m = {
      accepted: d.metrics.counter({
        name: 'vitte_chat_messages_total',
        help: 'Chat messages from users by result',
        labelNames: ['result'],
      }),
      replies: d.metrics.counter({
        name: 'vitte_chat_replies_total',
        help: 'Reply generations by outcome',
        labelNames: ['outcome'],
      }),
      generating: d.metrics.gauge({
        name: 'vitte_chat_generations_in_flight',
        help: 'Replies being generated',
      }),
      summaries: d.metrics.counter({
        name: 'vitte_chat_summaries_total',
        help: 'Rolling dialog summaries written',
      }),
    };
  }

  get configured(): boolean {
    return this.d.llm.configured;
  }

  /** Take one unit of quota, store the message, queue the reply. */
  async accept(user: User, text: string, origin: Origin): Promise<AcceptResult> {
    if (!this.d.llm.configured) {
      this.m.accepted.inc({ result: 'not_configured' });
      return { kind: 'not_configured' };
    }
    const taken = await this.d.subscriptions.takeMessage(user.id);
    if (!taken.ok) {
      this.m.accepted.inc({ result: 'quota_exceeded' });
      return { kind: 'quota_exceeded', resetsAt: taken.resetsAt };
    }
    try {
      const dialog = await this.d.dialogs.ensureActive(user.id, text);
      const message = await this.d.dialogsRepo.insertMessage({
        dialogId: dialog.id,
        role: 'user',
        content: text,
        telegramMessageId: origin.telegramMessageId,
        metadata: { chat_id: origin.chatId, chat_type: origin.chatType },
      });
      await this.d.enqueueReply(dialog.id);
      this.m.accepted.inc({ result: 'queued' });
      return { kind: 'queued', dialogId: dialog.id, messageId: message.id };
    } catch (err) {
      await this.d.subscriptions.refundMessage(user.id);
      throw err;
    }
  }

  /** /stop: abort the generation in flight for the user's active dialog. False when there is none. */
  async stop(userId: number): Promise<boolean> {
    const dialog = await this.d.dialogs.active(userId);
    if (!dialog || !(await this.d.cache.get(`chat:generating:${dialog.id}`))) return false;
    await this.d.bus.publish(STOP_TOPIC, String(dialog.id));
    return true;
  }

  /**
   * The `chat.reply` job: answer every pending user message of the dialog, round after round,
   * until none is left. Throws only for infrastructure errors (the job is retried).
   */
  async reply(dialogId: number, attempt: { isLast: boolean }, jobSignal?: AbortSignal): Promise<void> {
    for (let round = 0; round < 20; round++) {
      const dialog = await this.d.dialogsRepo.findById(dialogId);
      if (!dialog) return;
      const pending = await this.d.dialogsRepo.pendingMessages(dialog);
      const last = pending.at(-1);
      if (!last) return;
      const user = await this.d.users.find(dialog.user_id);
      if (!user) return;
      const meta = last.metadata as { chat_id?: number; chat_type?: string };
      const output = this.d.output({
        chatId: meta.chat_id ?? user.id,
        chatType: meta.chat_type ?? 'private',
        user,
      });
      await this.generate(dialog, pending, output, attempt, jobSignal);
    }
  }

  private async generate(
    dialog: Dialog,
    pending: Message[],
    output: ReplyOutput,
    attempt: { isLast: boolean },
    jobSignal?: AbortSignal,
  ): Promise<void> {
    const log = this.d.logger.child({ dialogId: dialog.id, userId: dialog.user_id });
    const upTo = pending.at(-1)!.id;
    const controller = new AbortController();
    const onJobAbort = () => controller.abort(jobSignal?.reason);
    jobSignal?.addEventListener('abort', onJobAbort, { once: true });
    this.running.set(dialog.id, controller);
    await this.d.cache.set(`chat:generating:${dialog.id}`, 1, GENERATING_TTL_MS);
    this.m.generating.inc();
    let partial = '';
    const typing = setInterval(() => void output.typing().catch(() => {}), 4_500);
    try {
      await output.typing().catch(() => {});
      const [systemPrompt, model, history] = await Promise.all([
        this.d.settings.get('llm.system_prompt'),
        this.d.settings.get('llm.model'),
        this.d.dialogsRepo.contextMessages(dialog, 200),
      ]);
      const context = buildContext({
        systemPrompt: dialog.system_prompt ?? systemPrompt,
        summary: dialog.summary,
        history,
        budgetTokens: this.d.contextTokens - this.d.maxAnswerTokens,
      });
      const result = await this.d.llm.stream({
        messages: context.messages,
        model: model || undefined,
        signal: controller.signal,
        onDelta: (delta) => {
          if (!partial) clearInterval(typing);
          partial += delta;
          output.progress(partial);
        },
      });
      clearInterval(typing);
      if (!result.text.trim()) throw new EmptyAnswerError();
      const ids = await output.finish(result.text);
      await this.d.dialogsRepo.insertMessage({
        dialogId: dialog.id,
        role: 'assistant',
        content: result.text,
        tokens: result.completionTokens,
        telegramMessageId: ids[0] ?? null,
        metadata: {
          prompt_tokens: result.promptTokens,
          completion_tokens: result.completionTokens,
          finish_reason: result.finishReason,
          answered_up_to: upTo,
          context_dropped: context.dropped,
        },
      });
      await this.d.dialogsRepo.markAnswered(dialog.id, upTo);
      // Older messages no longer fit: fold them into the dialog's rolling summary in the background.
      if (context.dropped > 0) await this.d.enqueueSummary(dialog.id);
      this.m.replies.inc({ outcome: 'ok' });
      log.info({ tokens: result.completionTokens, coalesced: pending.length }, 'reply sent');
    } catch (err) {
      clearInterval(typing);
      if (err instanceof LlmCancelledError && !jobSignal?.aborted) {
        await this.keepPartial(dialog, partial, upTo, output);
        this.m.replies.inc({ outcome: 'stopped' });
        log.info({ chars: partial.length }, 'reply stopped by the user');
        return;
      }
      const expected =
        err instanceof LlmNotConfiguredError ||
        err instanceof CircuitOpenError ||
        err instanceof EmptyAnswerError ||
        err instanceof LlmRequestError;
      if (!expected && !attempt.isLast) throw err;
      log.error({ err }, 'reply failed');
      this.m.replies.inc({ outcome: err instanceof CircuitOpenError ? 'busy' : 'failed' });
      // The messages stay in the history; their quota units come back before the user hears about it.
      for (let i = 0; i < pending.length; i++) await this.d.subscriptions.refundMessage(dialog.user_id);
      await this.d.dialogsRepo.markAnswered(dialog.id, upTo);
      await output
        .fail(
          err instanceof LlmNotConfiguredError
            ? 'not_configured'
            : err instanceof CircuitOpenError
              ? 'busy'
              : 'failed',
        )
        .catch((e: unknown) => log.warn({ err: e }, 'could not tell the user about the failure'));
    } finally {
      jobSignal?.removeEventListener('abort', onJobAbort);
      this.running.delete(dialog.id);
      this.m.generating.dec();
      await this.d.cache.delete(`chat:generating:${dialog.id}`);
    }
  }

  private async keepPartial(
    dialog: Dialog,
    partial: string,
    upTo: number,
    output: ReplyOutput,
  ): Promise<void> {
    const ids = partial.trim() ? await output.finish(partial) : [];
    if (partial.trim()) {
      await this.d.dialogsRepo.insertMessage({
        dialogId: dialog.id,
        role: 'assistant',
        content: partial,
        telegramMessageId: ids[0] ?? null,
        metadata: { stopped: true, answered_up_to: upTo },
      });
    }
    await this.d.dialogsRepo.markAnswered(dialog.id, upTo);
  }

  /**
   * The `chat.summarize` job: fold the messages that no longer fit (all but the newest half of the
   * budget) into the dialog's summary, so later answers still know what was said.
   */
  async summarize(dialogId: number, signal?: AbortSignal): Promise<{ folded: number }> {
    const dialog = await this.d.dialogsRepo.findById(dialogId);
    if (!dialog) return { folded: 0 };
    const history = await this.d.dialogsRepo.contextMessages(dialog, 400);
    const { fold } = splitForSummary(
      history,
      Math.floor((this.d.contextTokens - this.d.maxAnswerTokens) / 2),
    );
    const last = fold.at(-1);
    if (!last) return { folded: 0 };
    const model = await this.d.settings.get('llm.model');
    const result = await this.d.llm.stream({
      messages: summaryRequest(dialog.summary, fold),
      model: model || undefined,
      signal,
    });
    if (!result.text.trim()) return { folded: 0 };
    await this.d.dialogsRepo.saveSummary(dialog.id, result.text.trim(), last.id);
    this.m.summaries.inc();
    this.d.logger.info({ dialogId, folded: fold.length }, 'dialog summary updated');
    return { folded: fold.length };
  }

  /** Re-enqueue replies that waited too long (a crash, or a message that raced a finishing job). */
  async sweep(olderThanS = 30): Promise<number> {
    const ids = await this.d.dialogsRepo.stuck(olderThanS, 500);
    for (const id of ids) await this.d.enqueueReply(id);
    if (ids.length) this.d.logger.warn({ count: ids.length }, 'stuck replies re-enqueued');
    return ids.length;
  }
}

class EmptyAnswerError extends Error {
  override name = 'EmptyAnswerError';
  constructor() {
    super('the LLM returned an empty answer');
  }
}
