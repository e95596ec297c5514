import type { LlmClient } from '../../integrations/llm/llm-client.js';
import type { User } from '../../platform/db/schema.js';
import type { Logger } from '../../platform/logger.js';
import type { DialogScope, DialogsService } from '../dialogs/dialogs.service.js';
import type { SubscriptionsService } from '../subscriptions/subscriptions.service.js';
import type { ChatMetrics } from './chat.metrics.js';
import type { ChatRepository } from './chat.repository.js';
import type { Generations } from './generations.js';
import { ReplyRunner, type ReplyRunnerDeps } from './reply-runner.js';

export type AcceptResult =
  | { kind: 'queued'; dialogId: number; messageId: number }
  | { kind: 'quota_exceeded'; resetsAt: Date | null }
  | { kind: 'not_configured' };

export interface ChatServiceDeps {
  repo: ChatRepository;
  dialogs: DialogsService;
  subscriptions: SubscriptionsService;
  llm: LlmClient;
  generations: Generations;
  /** Enqueue `chat.reply` for a dialog (the dialog's reply lease keeps one generation in flight). */
  enqueueReply: (dialogId: number) => Promise<void>;
  /** What each attempt of `chat.reply` runs with (see ReplyRunner). */
  runner: ReplyRunnerDeps;
  metrics: ChatMetrics;
  logger: Logger;
}

/** Where the incoming message came from (kept on the message to answer in the same chat). */
export interface Origin {
  chatId: number;
  telegramMessageId: number;
}

/**
 * The AI chat's intake — accepting a message (quota, storage, queue) and /stop — and its job entry
 * points. Answers are written by a ReplyRunner per job attempt.
 */
export class ChatService {
  constructor(private readonly d: ChatServiceDeps) {}

  get configured(): boolean {
    return this.d.llm.configured;
  }

  /** Take one unit of quota, store the message, queue the reply. */
  async accept(user: User, text: string, origin: Origin): Promise<AcceptResult> {
    if (!this.d.llm.configured) {
      this.d.metrics.accepted.inc({ result: 'not_configured' });
      return { kind: 'not_configured' };
    }
    const taken = await this.d.subscriptions.takeMessage(user.id);
    if (!taken.ok) {
      this.d.metrics.accepted.inc({ result: 'quota_exceeded' });
      return { kind: 'quota_exceeded', resetsAt: taken.resetsAt };
    }
    let stored: { dialogId: number; messageId: number } | undefined;
    try {
      const dialog = await this.d.dialogs.ensureActive({ userId: user.id, chatId: origin.chatId }, text);
      const message = await this.d.repo.insertMessage({
        dialogId: dialog.id,
        role: 'user',
        content: text,
        telegramMessageId: origin.telegramMessageId,
      });
      stored = { dialogId: dialog.id, messageId: message.id };
      await this.d.enqueueReply(dialog.id);
      this.d.metrics.accepted.inc({ result: 'queued' });
      return { kind: 'queued', ...stored };
    } catch (err) {
      // Nothing will answer it: take the question back with its quota unit (the user is told to retry).
      if (stored) {
        await this.d.repo
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
    if (!dialog || !(await this.d.generations.active(dialog.id))) return false;
    await this.d.generations.stop(dialog.id);
    return true;
  }

  /**
   * The `chat.reply` job: one attempt of a ReplyRunner for the dialog. `heldForMs`: another job
   * holds the dialog; look again once its lease would have run out (it may have died).
   */
  reply(
    dialogId: number,
    attempt: { isLast: boolean },
    jobSignal?: AbortSignal,
  ): Promise<{ heldForMs?: number }> {
    return new ReplyRunner(this.d.runner, dialogId, attempt.isLast, jobSignal).run();
  }

  /** Re-enqueue replies that waited too long or whose delivery was cut short (a crash). */
  async sweep(olderThanS = 30): Promise<number> {
    const ids = await this.d.repo.stuck(olderThanS, 500);
    for (const id of ids) await this.d.enqueueReply(id);
    if (ids.length) this.d.logger.warn({ count: ids.length }, 'stuck replies re-enqueued');
    return ids.length;
  }
}
