import type { LlmClient } from '../../integrations/llm/llm-client.js';
import type { User } from '../../platform/db/schema.js';
import type { Transactor } from '../../platform/db/transactor.js';
import type { Logger } from '../../platform/logger.js';
import type { DialogScope, DialogsService } from '../dialogs/dialogs.service.js';
import type { SubscriptionsService } from '../subscriptions/subscriptions.service.js';
import type { ChatMetrics } from './chat.metrics.js';
import type { ChatRepository, Question } from './chat.repository.js';
import type { Generations } from './generations.js';
import { ReplyRunner, type ReplyRunnerDeps } from './reply-runner.js';

export type AcceptResult =
  | { kind: 'queued'; dialogId: number; messageId: number }
  | { kind: 'quota_exceeded'; resetsAt: Date | null }
  | { kind: 'not_configured' }
  /** The same Telegram message was stored before: its update is being delivered again. */
  | { kind: 'duplicate' };

export interface ChatServiceDeps {
  tx: Transactor;
  repo: ChatRepository;
  dialogs: DialogsService;
  subscriptions: SubscriptionsService;
  llm: LlmClient;
  generations: Generations;
  /** Enqueue `chat.reply` for a dialog (the dialog's reply lease keeps one generation in flight). Runs after commit. */
  enqueueReply: (dialogId: number) => Promise<void>;
  /** What each attempt of `chat.reply` runs with (see ReplyRunner). */
  runner: ReplyRunnerDeps;
  metrics: ChatMetrics;
  logger: Logger;
}

/** Rolls back a new dialog whose first message the quota refused. */
class Refused extends Error {
  override name = 'Refused';
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

  /**
   * Take one unit of quota and store the message — one statement, so both commit or neither; the
   * first message of a chat creates its dialog in the same transaction — then queue the reply.
   */
  async accept(user: User, text: string, origin: Origin): Promise<AcceptResult> {
    if (!this.d.llm.configured) {
      this.d.metrics.accepted.inc({ result: 'not_configured' });
      return { kind: 'not_configured' };
    }
    const q: Question = {
      userId: user.id,
      chatId: origin.chatId,
      text,
      telegramMessageId: origin.telegramMessageId,
    };
    const target = await this.d.repo.questionTarget(q);
    if (target?.stored) {
      this.d.metrics.accepted.inc({ result: 'duplicate' });
      this.d.logger.info({ dialogId: target.dialogId }, 'message already stored; update delivered again');
      return { kind: 'duplicate' };
    }
    const stored = await (target ? this.store(target.dialogId, q) : this.storeInNewDialog(q));
    if (!stored) {
      this.d.metrics.accepted.inc({ result: 'quota_exceeded' });
      return { kind: 'quota_exceeded', resetsAt: (await this.d.subscriptions.refusal(user.id)).resetsAt };
    }
    // Queued once the question is committed, without holding the update: an enqueue that fails or
    // waits for Redis loses nothing, as the sweeper (chat.sweep, every minute) re-enqueues every
    // dialog whose newest question is unanswered.
    await this.d.tx.afterCommit(() => {
      this.d
        .enqueueReply(stored.dialogId)
        .catch((err: unknown) =>
          this.d.logger.warn(
            { err, dialogId: stored.dialogId },
            'reply not queued; the sweeper will queue it',
          ),
        );
    });
    this.d.metrics.accepted.inc({ result: 'queued' });
    return { kind: 'queued', ...stored };
  }

  private async store(
    dialogId: number,
    q: Question,
  ): Promise<{ dialogId: number; messageId: number } | undefined> {
    const messageId = await this.d.subscriptions.takeMessageWith(q.userId, (db) =>
      this.d.repo.storeQuestion(db, dialogId, q),
    );
    return messageId === undefined ? undefined : { dialogId, messageId };
  }

  /** The chat's first message: its dialog is created with it, or not at all when the quota refuses it. */
  private async storeInNewDialog(q: Question) {
    try {
      return await this.d.tx.run(async () => {
        const dialog = await this.d.dialogs.ensureActive({ userId: q.userId, chatId: q.chatId }, q.text);
        const stored = await this.store(dialog.id, q);
        if (!stored) throw new Refused();
        return stored;
      });
    } catch (err) {
      if (err instanceof Refused) return undefined;
      throw err;
    }
  }

  /**
   * /stop: abort the generation in flight for the active dialog. False when there is none: nobody
   * holds the dialog's reply lease, which a job takes before it writes an answer.
   */
  async stop(scope: DialogScope): Promise<boolean> {
    const dialog = await this.d.dialogs.active(scope);
    if (!dialog?.reply_until || dialog.reply_until.getTime() <= Date.now()) return false;
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
