import { randomUUID } from 'node:crypto';
import {
  CircuitOpenError,
  type Completion,
  LlmCancelledError,
  type LlmClient,
  LlmNotConfiguredError,
  LlmRequestError,
} from '../../integrations/llm/llm-client.js';
import type { Cache, InvalidationBus } from '../../platform/cache.js';
import type { Dialog, Message, User } from '../../platform/db/schema.js';
import type { Logger } from '../../platform/logger.js';
import type { Metrics } from '../../platform/metrics.js';
import { JobTimeoutError } from '../../platform/queue/index.js';
import type { DialogScope, DialogsRepository } from '../dialogs/dialogs.repository.js';
import type { DialogsService } from '../dialogs/dialogs.service.js';
import type { SettingsService } from '../settings/settings.service.js';
import type { SubscriptionsService } from '../subscriptions/subscriptions.service.js';
import { buildContext, splitForSummary, summaryRequest } from './context-builder.js';
import {
  type DeliveryProgress,
  ReplyDeliveryError,
  type ReplyOutput,
  type ReplyOutputFactory,
} from './reply-output.js';

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
  /** Enqueue `chat.reply` for a dialog (the dialog's reply lease keeps one generation in flight). */
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
  telegramMessageId: number;
}

/** The reply lease, renewed every third of it while held: a crashed holder frees the dialog this fast. */
const LEASE_MS = 60_000;
const STOP_TOPIC = 'chat-stop';
/** Rounds per lease (an answer each) and leases per job: bounds for a dialog that never goes quiet. */
const MAX_ROUNDS = 20;
const MAX_PASSES = 5;
/** Newest messages read for the context; what does not fit goes to the rolling summary. */
const HISTORY_LIMIT = 200;

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
      leaseLost: d.metrics.counter({
        name: 'vitte_chat_reply_lease_lost_total',
        help: 'Replies given up because another job took the dialog over (a stall longer than the lease)',
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
    let stored: { dialogId: number; messageId: number } | undefined;
    try {
      const dialog = await this.d.dialogs.ensureActive({ userId: user.id, chatId: origin.chatId }, text);
      const message = await this.d.dialogsRepo.insertMessage({
        dialogId: dialog.id,
        role: 'user',
        content: text,
        telegramMessageId: origin.telegramMessageId,
      });
      stored = { dialogId: dialog.id, messageId: message.id };
      await this.d.enqueueReply(dialog.id);
      this.m.accepted.inc({ result: 'queued' });
      return { kind: 'queued', ...stored };
    } catch (err) {
      // Nothing will answer it: take the question back with its quota unit (the user is told to retry).
      if (stored) {
        await this.d.dialogsRepo
          .withdrawMessage(stored.dialogId, stored.messageId)
          .catch((e: unknown) => this.d.logger.error({ err: e, ...stored }, 'could not withdraw a message'));
      }
      await this.d.subscriptions.refundMessages(user.id, 1);
      throw err;
    }
  }

  /** /stop: abort the generation in flight for the active dialog. False when there is none. */
  async stop(scope: DialogScope): Promise<boolean> {
    const dialog = await this.d.dialogs.active(scope);
    if (!dialog || !(await this.d.cache.get(generatingKey(dialog.id)))) return false;
    await this.d.bus.publish(STOP_TOPIC, String(dialog.id));
    return true;
  }

  /**
   * The `chat.reply` job. Whoever holds the dialog's reply lease answers every pending message,
   * round after round; a job that finds the lease taken leaves its message to the holder, which
   * looks again after giving the lease back. Throws only for errors worth a retry.
   */
  async reply(dialogId: number, attempt: { isLast: boolean }, jobSignal?: AbortSignal): Promise<void> {
    const log = this.d.logger.child({ dialogId });
    for (let pass = 0; pass < MAX_PASSES; pass++) {
      const lease: Lease = { dialogId, token: randomUUID(), lost: false };
      if (!(await this.d.dialogsRepo.claimReply(dialogId, lease.token, LEASE_MS))) {
        log.debug('another job holds the reply lease; it answers');
        return;
      }
      const renew = setInterval(() => {
        this.d.dialogsRepo.renewReply(dialogId, lease.token, LEASE_MS).then(
          (held) => {
            if (held) return;
            // Another job took the dialog over (we stalled past the lease): it answers, we stop.
            lease.lost = true;
            this.m.leaseLost.inc();
            log.warn('reply lease lost; leaving the dialog to the job that took it');
            this.running.get(dialogId)?.abort(new Error('reply lease lost'));
          },
          (err: unknown) => log.warn({ err }, 'could not renew the reply lease'),
        );
      }, LEASE_MS / 3);
      try {
        await this.rounds(lease, attempt, jobSignal);
      } finally {
        clearInterval(renew);
        await this.d.dialogsRepo.releaseReply(dialogId, lease.token);
      }
      if (lease.lost) return;
      // A message stored after our last look had its own job see the lease and leave it to us.
      const dialog = await this.d.dialogsRepo.findById(dialogId);
      if (!dialog || !hasWork(dialog)) return;
    }
  }

  private async rounds(
    lease: Lease,
    attempt: { isLast: boolean },
    jobSignal: AbortSignal | undefined,
  ): Promise<void> {
    const { dialogId } = lease;
    for (let round = 0; round < MAX_ROUNDS && !lease.lost; round++) {
      const dialog = await this.d.dialogsRepo.findById(dialogId);
      if (!dialog || !hasWork(dialog)) return;
      const user = await this.d.users.find(dialog.user_id);
      if (!user) return;
      const output = this.d.output({
        chatId: dialog.chat_id,
        chatType: dialog.chat_id === dialog.user_id ? 'private' : 'group',
        user,
      });
      const log = this.d.logger.child({ dialogId, userId: dialog.user_id });
      if (dialog.pending_answer_id !== null) {
        // An earlier attempt stored the answer but could not send all of it: finish, do not regenerate.
        const answer = await this.d.dialogsRepo.findMessage(dialog.pending_answer_id);
        if (!answer)
          await this.d.dialogsRepo.clearPendingAnswer(dialogId, dialog.pending_answer_id, lease.token);
        else {
          log.info({ messageId: answer.id }, 'resuming the delivery of a stored answer');
          await this.deliver(lease, dialog, answer, output, attempt, log);
        }
        continue;
      }
      const pending = await this.d.dialogsRepo.pendingMessages(dialog);
      if (!pending.length) return;
      await this.generate(lease, dialog, pending, output, attempt, jobSignal, log);
    }
  }

  private async generate(
    lease: Lease,
    dialog: Dialog,
    pending: Message[],
    output: ReplyOutput,
    attempt: { isLast: boolean },
    jobSignal: AbortSignal | undefined,
    log: Logger,
  ): Promise<void> {
    const upTo = (pending.at(-1) as Message).id;
    const controller = new AbortController();
    const onJobAbort = () => controller.abort(jobSignal?.reason);
    jobSignal?.addEventListener('abort', onJobAbort, { once: true });
    this.running.set(dialog.id, controller);
    // Seen by /stop in any process: an answer is being written (not just delivered) right now.
    await this.d.cache.set(generatingKey(dialog.id), 1, LEASE_MS);
    this.m.generating.inc();
    let partial = '';
    let result: Completion | undefined;
    let dropped = 0;
    const typing = setInterval(() => void output.typing().catch(() => {}), 4_500);
    try {
      await output.typing().catch(() => {});
      const [systemPrompt, model, history] = await Promise.all([
        this.d.settings.get('llm.system_prompt'),
        this.d.settings.get('llm.model'),
        this.d.dialogsRepo.contextMessages(dialog, HISTORY_LIMIT + 1),
      ]);
      const context = buildContext({
        systemPrompt: dialog.system_prompt ?? systemPrompt,
        summary: dialog.summary,
        history: history.slice(0, HISTORY_LIMIT),
        budgetTokens: this.d.contextTokens - this.d.maxAnswerTokens,
      });
      // More history than we read counts as dropped too: it belongs in the summary.
      dropped = context.dropped + (history.length > HISTORY_LIMIT ? 1 : 0);
      result = await this.d.llm.stream({
        messages: context.messages,
        model: model || undefined,
        signal: controller.signal,
        onDelta: (delta) => {
          if (!partial) clearInterval(typing);
          partial += delta;
          output.progress(partial);
        },
      });
      if (!result.text.trim()) throw new EmptyAnswerError();
    } catch (err) {
      if (lease.lost) return;
      const stoppedByUser = err instanceof LlmCancelledError && !jobSignal?.aborted;
      if (!stoppedByUser) {
        if (!this.isFinal(err, attempt, jobSignal)) throw err;
        await this.failReply(lease, dialog, pending.length, upTo, output, err, log);
        return;
      }
    } finally {
      clearInterval(typing);
      jobSignal?.removeEventListener('abort', onJobAbort);
      this.running.delete(dialog.id);
      this.m.generating.dec();
      await this.d.cache.delete(generatingKey(dialog.id));
    }

    const stopped = result === undefined;
    const text = result?.text ?? partial;
    if (!text.trim()) {
      await output.settle();
      await this.d.dialogsRepo.markAnswered(dialog.id, upTo, lease.token);
      this.m.replies.inc({ outcome: 'stopped' });
      log.info('reply stopped by the user before any text');
      return;
    }
    const placeholderId = await output.settle();
    const answer = await this.d.dialogsRepo.storeAnswer(
      {
        dialogId: dialog.id,
        role: 'assistant',
        content: text,
        tokens: result?.completionTokens ?? null,
        metadata: {
          prompt_tokens: result?.promptTokens ?? null,
          completion_tokens: result?.completionTokens ?? null,
          finish_reason: result?.finishReason ?? null,
          answered_up_to: upTo,
          context_dropped: dropped,
          quota_units: pending.length,
          ...(stopped ? { stopped: true } : {}),
          delivery: { sent: [], placeholderId } satisfies DeliveryProgress,
        },
      },
      upTo,
      lease.token,
    );
    if (!answer) {
      lease.lost = true;
      this.m.leaseLost.inc();
      log.warn('reply lease lost before the answer was stored; the job that took it answers');
      return;
    }
    if (await this.deliver(lease, dialog, answer, output, attempt, log)) {
      this.m.replies.inc({ outcome: stopped ? 'stopped' : 'ok' });
      log.info(
        { tokens: result?.completionTokens, coalesced: pending.length, stopped },
        stopped ? 'reply stopped by the user; partial answer kept' : 'reply sent',
      );
    }
    // Older messages no longer fit: fold them into the dialog's rolling summary in the background.
    if (dropped > 0) await this.d.enqueueSummary(dialog.id);
  }

  /**
   * Whether a generation error ends the reply now (the user is told, the quota comes back) rather
   * than failing the attempt for a retry. The LLM client already retried the provider's errors.
   */
  private isFinal(err: unknown, attempt: { isLast: boolean }, jobSignal: AbortSignal | undefined): boolean {
    // Shutdown: the job goes back to the queue as it was. Time limit: the last attempt gives up.
    if (jobSignal?.aborted) return jobSignal.reason instanceof JobTimeoutError && attempt.isLast;
    const expected =
      err instanceof LlmNotConfiguredError ||
      err instanceof CircuitOpenError ||
      err instanceof EmptyAnswerError ||
      err instanceof LlmRequestError;
    return expected || attempt.isLast;
  }

  private async failReply(
    lease: Lease,
    dialog: Dialog,
    units: number,
    upTo: number,
    output: ReplyOutput,
    err: unknown,
    log: Logger,
  ): Promise<void> {
    log.error({ err }, 'reply failed');
    this.m.replies.inc({ outcome: err instanceof CircuitOpenError ? 'busy' : 'failed' });
    // The messages stay in the history; their quota units come back before the user hears about it.
    await this.d.subscriptions.refundMessages(dialog.user_id, units);
    await this.d.dialogsRepo.markAnswered(dialog.id, upTo, lease.token);
    const reason =
      err instanceof LlmNotConfiguredError
        ? 'not_configured'
        : err instanceof CircuitOpenError
          ? 'busy'
          : 'failed';
    await output
      .fail(reason)
      .catch((e: unknown) => log.warn({ err: e }, 'could not tell the user about the failure'));
  }

  /**
   * Send a stored answer, remembering each part as it goes, so a retry sends only what is missing.
   * Resolves true once it is delivered, false when it was given up on (the user is told and, when
   * nothing reached them, refunded); throws when a retry should continue it.
   */
  private async deliver(
    lease: Lease,
    dialog: Dialog,
    answer: Message,
    output: ReplyOutput,
    attempt: { isLast: boolean },
    log: Logger,
  ): Promise<boolean> {
    const meta = answer.metadata as AnswerMetadata;
    let progress: DeliveryProgress = meta.delivery ?? { sent: [] };
    try {
      await output.deliver(answer.content, progress, async (p) => {
        progress = p;
        if (!(await this.d.dialogsRepo.recordDelivery(answer.id, p, lease))) throw new LeaseLostError();
      });
      await this.d.dialogsRepo.clearPendingAnswer(dialog.id, answer.id, lease.token);
      return true;
    } catch (err) {
      if (err instanceof LeaseLostError || lease.lost) {
        if (!lease.lost) this.m.leaseLost.inc();
        lease.lost = true;
        log.warn(
          { sent: progress.sent.length },
          'reply lease lost while delivering; the job that took it continues',
        );
        return false;
      }
      const permanent = err instanceof ReplyDeliveryError && err.permanent;
      if (!permanent && !attempt.isLast) {
        log.warn({ err, sent: progress.sent.length }, 'answer delivery interrupted; a retry continues it');
        throw err;
      }
      log.error({ err, sent: progress.sent.length }, 'answer could not be delivered');
      this.m.replies.inc({ outcome: 'undelivered' });
      await this.d.dialogsRepo.recordDelivery(
        answer.id,
        { ...progress, failed: (err as Error).message },
        lease,
      );
      await this.d.dialogsRepo.clearPendingAnswer(dialog.id, answer.id, lease.token);
      const nothingSent = progress.sent.length === 0;
      if (nothingSent) await this.d.subscriptions.refundMessages(dialog.user_id, meta.quota_units ?? 1);
      if (!(err instanceof ReplyDeliveryError && err.blocked)) {
        // A part already delivered stays: the notice goes after it, never over it.
        await output
          .fail(nothingSent ? 'failed' : 'incomplete', nothingSent ? progress.placeholderId : null)
          .catch((e: unknown) => log.warn({ err: e }, 'could not tell the user about the failure'));
      }
      return false;
    }
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

  /** Re-enqueue replies that waited too long or whose delivery was cut short (a crash). */
  async sweep(olderThanS = 30): Promise<number> {
    const ids = await this.d.dialogsRepo.stuck(olderThanS, 500);
    for (const id of ids) await this.d.enqueueReply(id);
    if (ids.length) this.d.logger.warn({ count: ids.length }, 'stuck replies re-enqueued');
    return ids.length;
  }
}

/** A held reply lease: `lost` once another job took the dialog over (this one stalled past it). */
interface Lease {
  dialogId: number;
  token: string;
  lost: boolean;
}

class LeaseLostError extends Error {
  override name = 'LeaseLostError';
  constructor() {
    super('the reply lease was lost');
  }
}

interface AnswerMetadata {
  quota_units?: number;
  delivery?: DeliveryProgress;
}

const generatingKey = (dialogId: number) => `chat:generating:${dialogId}`;

function hasWork(d: Dialog): boolean {
  return d.pending_answer_id !== null || d.last_user_message_id > d.answered_up_to_id;
}

class EmptyAnswerError extends Error {
  override name = 'EmptyAnswerError';
  constructor() {
    super('the LLM returned an empty answer');
  }
}
