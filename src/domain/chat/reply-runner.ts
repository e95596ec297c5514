import {
  CircuitOpenError,
  type Completion,
  LlmCancelledError,
  type LlmClient,
  LlmNotConfiguredError,
  LlmRequestError,
} from '../../integrations/llm/llm-client.js';
import type { Dialog, Message, User } from '../../platform/db/schema.js';
import type { Transactor } from '../../platform/db/transactor.js';
import { errorMessage } from '../../platform/errors.js';
import type { Logger } from '../../platform/logger.js';
import { JobTimeoutError } from '../../platform/queue/index.js';
import type { SettingsService } from '../settings/settings.service.js';
import type { SubscriptionsService } from '../subscriptions/subscriptions.service.js';
import type { ChatMetrics } from './chat.metrics.js';
import type { ChatRepository } from './chat.repository.js';
import { buildContext } from './context-builder.js';
import type { Generations } from './generations.js';
import { ReplyLease } from './reply-lease.js';
import {
  type DeliveryProgress,
  ReplyDeliveryError,
  type ReplyOutput,
  type ReplyOutputFactory,
} from './reply-output.js';
import {
  decideDeliveryError,
  decideGenerationError,
  failureNotice,
  type GenerationErrorKind,
  type JobState,
  undeliveredOutcome,
} from './reply-policy.js';

export interface ReplyRunnerDeps {
  /** A fenced write and the refund it allows commit together (see giveUp and deliver). */
  tx: Transactor;
  repo: ChatRepository;
  users: { find(id: number): Promise<User | undefined> };
  subscriptions: Pick<SubscriptionsService, 'refundQuestions'>;
  settings: SettingsService;
  llm: Pick<LlmClient, 'stream'>;
  generations: Generations;
  output: ReplyOutputFactory;
  /** Enqueue `chat.summarize` for a dialog whose context no longer fits. */
  enqueueSummary: (dialogId: number) => Promise<void>;
  /** Enqueue `chat.reply` for a dialog: a job that reached its bounds hands the rest on. */
  enqueueReply: (dialogId: number) => Promise<void>;
  metrics: ChatMetrics;
  logger: Logger;
  contextTokens: number;
  maxAnswerTokens: number;
  /** Rounds per lease (an answer each) and leases per job; defaults: 20 and 5. */
  bounds?: { rounds: number; passes: number };
}

/** Bounds for a dialog that never goes quiet, so one job does not hold a worker slot forever. */
const BOUNDS = { rounds: 20, passes: 5 };
/** Newest messages read for the context; what does not fit goes to the rolling summary. */
export const HISTORY_LIMIT = 200;

/** One round's subject: the dialog as it was read, where its answer goes, and the log with its ids. */
interface Round {
  dialog: Dialog;
  output: ReplyOutput;
  log: Logger;
}

interface AnswerMetadata {
  answered_up_to?: number;
  quota_units?: number;
  finish_reason?: string | null;
  delivery?: DeliveryProgress;
}

class LeaseLostError extends Error {
  override name = 'LeaseLostError';
  constructor() {
    super('the reply lease was lost');
  }
}

class EmptyAnswerError extends Error {
  override name = 'EmptyAnswerError';
  constructor() {
    super('the LLM returned an empty answer');
  }
}

function classifyGenerationError(err: unknown, jobAborted: boolean): GenerationErrorKind {
  if (err instanceof LlmCancelledError && !jobAborted) return 'stopped_by_user';
  if (err instanceof LlmNotConfiguredError) return 'not_configured';
  if (err instanceof CircuitOpenError) return 'busy';
  if (err instanceof EmptyAnswerError) return 'empty_answer';
  if (err instanceof LlmRequestError) return 'provider';
  return 'unexpected';
}

/**
 * One attempt of the `chat.reply` job for one dialog. Whoever holds the dialog's reply lease
 * answers every pending message, round after round; a job that finds the lease taken leaves its
 * message to the holder, which looks again after giving the lease back. Each answer is generated,
 * stored before it is sent, then delivered part by part. Throws only for errors worth a retry.
 */
export class ReplyRunner {
  private lease: ReplyLease | undefined;

  constructor(
    private readonly d: ReplyRunnerDeps,
    private readonly dialogId: number,
    private readonly isLastAttempt: boolean,
    private readonly jobSignal: AbortSignal | undefined,
  ) {}

  /**
   * Resolves with `heldForMs` when another job held the dialog from the start: it answers this
   * job's message too, and if it died instead, its lease runs out in that time. The caller looks
   * again then (a dead worker's dialogs are answered within the lease, not at the next sweep).
   */
  async run(): Promise<{ heldForMs?: number }> {
    const log = this.d.logger.child({ dialogId: this.dialogId });
    const bounds = this.d.bounds ?? BOUNDS;
    for (let pass = 0; pass < bounds.passes; pass++) {
      const claimed = await ReplyLease.claim(this.d.repo, this.dialogId);
      if (!claimed) return {};
      if (!('lease' in claimed)) {
        log.debug({ heldForMs: claimed.heldForMs }, 'another job holds the reply lease; it answers');
        return pass === 0 ? { heldForMs: claimed.heldForMs } : {};
      }
      const lease = claimed.lease;
      this.lease = lease;
      lease.keepAlive(
        () => {
          // Another job took the dialog over (we stalled past the lease): it answers, we stop.
          this.d.metrics.leaseLost.inc();
          log.warn('reply lease lost; leaving the dialog to the job that took it');
          this.d.generations.abort(this.dialogId, new Error('reply lease lost'));
        },
        (err) => log.warn({ err }, 'could not renew the reply lease'),
      );
      let more: boolean;
      try {
        more = await this.rounds(lease, claimed.dialog);
      } finally {
        await lease.release();
      }
      if (!more) return {};
    }
    // Its messages' own jobs left them to us (they saw the lease): hand them on to a new job rather
    // than leave them to the sweeper (a minute or more).
    log.info(bounds, 'reply job reached its bounds; handing the dialog to a new job');
    await this.d.enqueueReply(this.dialogId);
    return {};
  }

  /**
   * Answer round after round while the lease holds the dialog. Each round ends in a fenced write
   * that returns the dialog and gives the lease back once nothing is left, so the next round needs
   * no read of its own. True when the bound stopped it with the dialog still held.
   */
  private async rounds(lease: ReplyLease, claimed: Dialog): Promise<boolean> {
    const rounds = this.d.bounds?.rounds ?? BOUNDS.rounds;
    let dialog: Dialog | undefined = claimed;
    for (let round = 0; round < rounds; round++) {
      if (!lease.holds(dialog)) return false;
      dialog = await this.round(lease, dialog);
    }
    return lease.holds(dialog);
  }

  /** One answer: finish delivering a stored one, or write the next. The dialog after it, if still ours. */
  private async round(lease: ReplyLease, dialog: Dialog): Promise<Dialog | undefined> {
    const user = await this.d.users.find(dialog.user_id);
    if (!user) return undefined;
    const r: Round = {
      dialog,
      output: this.d.output({
        chatId: dialog.chat_id,
        chatType: dialog.chat_id === dialog.user_id ? 'private' : 'group',
        user,
      }),
      log: this.d.logger.child({ dialogId: dialog.id, userId: dialog.user_id }),
    };
    if (dialog.pending_answer_id === null) return this.generate(r);
    // An earlier attempt stored the answer but could not send all of it: finish, do not regenerate.
    const answer = await this.d.repo.findMessage(dialog.pending_answer_id);
    if (!answer) return this.d.repo.clearPendingAnswer(dialog.id, dialog.pending_answer_id, lease.token);
    r.log.info({ messageId: answer.id }, 'resuming the delivery of a stored answer');
    return (await this.deliver(r, answer)).dialog;
  }

  private get heldLease(): ReplyLease {
    if (!this.lease) throw new Error('no reply lease held');
    return this.lease;
  }

  private jobState(): JobState {
    if (!this.jobSignal?.aborted) return 'running';
    return this.jobSignal.reason instanceof JobTimeoutError ? 'timed_out' : 'shutting_down';
  }

  /**
   * Write the answer to the pending questions (streaming it), store it, then deliver it. The dialog
   * after the round's last write; undefined when there was nothing to answer or the lease was lost.
   */
  private async generate(r: Round): Promise<Dialog | undefined> {
    const lease = this.heldLease;
    const { dialog, output } = r;
    const [systemPrompt, model, history] = await Promise.all([
      this.d.settings.get('llm.system_prompt'),
      this.d.settings.get('llm.model'),
      this.d.repo.contextMessages(dialog, HISTORY_LIMIT + 1),
    ]);
    const pending = pendingIn(history, dialog) ?? (await this.d.repo.pendingMessages(dialog));
    if (!pending.length) return undefined;
    const upTo = (pending.at(-1) as Message).id;
    const generation = this.d.generations.start(dialog.id, this.jobSignal);
    this.d.metrics.generating.inc();
    let partial = '';
    let result: Completion | undefined;
    let dropped = 0;
    const typing = setInterval(() => void output.typing().catch(() => {}), 4_500);
    try {
      // Not awaited: the LLM request need not wait for Telegram's answer to "typing".
      void output.typing().catch(() => {});
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
        signal: generation.signal,
        onDelta: (delta) => {
          if (!partial) clearInterval(typing);
          partial += delta;
          output.progress(partial);
        },
      });
      if (!result.text.trim()) throw new EmptyAnswerError();
    } catch (err) {
      if (lease.lost) return undefined;
      const kind = classifyGenerationError(err, this.jobSignal?.aborted === true);
      const decision = decideGenerationError(kind, this.jobState(), this.isLastAttempt);
      if (decision === 'retry') throw err;
      if (decision === 'give_up') return this.giveUp(r, pending.length, upTo, kind, err);
    } finally {
      clearInterval(typing);
      this.d.metrics.generating.dec();
      generation.end();
    }

    const stopped = result === undefined;
    const text = result?.text ?? partial;
    if (!text.trim()) {
      await output.settle();
      this.d.metrics.replies.inc({ outcome: 'stopped' });
      r.log.info('reply stopped by the user before any text');
      return this.d.repo.markAnswered(dialog.id, upTo, lease.token);
    }
    const placeholderId = await output.settle();
    const answer = await this.d.repo.storeAnswer(
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
      this.d.metrics.leaseLost.inc();
      r.log.warn('reply lease lost before the answer was stored; the job that took it answers');
      return undefined;
    }
    const delivery = await this.deliver(r, answer);
    if (delivery.delivered) {
      this.d.metrics.replies.inc({ outcome: stopped ? 'stopped' : 'ok' });
      r.log.info(
        { tokens: result?.completionTokens, coalesced: pending.length, stopped },
        stopped ? 'reply stopped by the user; partial answer kept' : 'reply sent',
      );
    }
    // Older messages no longer fit: fold them into the dialog's rolling summary in the background.
    if (dropped > 0) await this.d.enqueueSummary(dialog.id);
    return delivery.dialog;
  }

  /**
   * The answer cannot be written: the quota comes back before the user hears about it. Only the
   * runner whose fenced write marks the questions answered refunds and tells, in one transaction
   * with that write: a second runner (a retried job, a lease lost and taken again) finds them
   * answered and does neither.
   */
  private async giveUp(
    r: Round,
    units: number,
    upTo: number,
    kind: GenerationErrorKind,
    err: unknown,
  ): Promise<Dialog | undefined> {
    // A configuration error is the operator's, and the LLM client has logged its cause once as an
    // error: each reply it fails is a warning, not one more error per user message.
    if (kind === 'not_configured') r.log.warn({ err: errorMessage(err) }, 'reply failed');
    else r.log.error({ err }, 'reply failed');
    this.d.metrics.replies.inc({ outcome: kind === 'busy' ? 'busy' : 'failed' });
    const { dialog } = r;
    // The messages stay in the history.
    const after = await this.d.tx.run(async () => {
      const marked = await this.d.repo.markAnswered(dialog.id, upTo, this.heldLease.token);
      if (marked)
        await this.d.subscriptions.refundQuestions(dialog.user_id, {
          dialogId: dialog.id,
          upToId: upTo,
          units,
        });
      return marked;
    });
    if (after) {
      await r.output
        .fail(failureNotice(kind))
        .catch((e: unknown) => r.log.warn({ err: e }, 'could not tell the user about the failure'));
    }
    return after;
  }

  /**
   * Send a stored answer, remembering each part as it goes, so a retry sends only what is missing.
   * `delivered` once it is, false when it was given up on (the user is told and, when nothing
   * reached them, refunded); throws when a retry should continue it. `dialog`: as the write that
   * ended the delivery left it, while the lease still holds it.
   */
  private async deliver(r: Round, answer: Message): Promise<{ delivered: boolean; dialog?: Dialog }> {
    const lease = this.heldLease;
    const meta = answer.metadata as AnswerMetadata;
    let progress: DeliveryProgress = meta.delivery ?? { sent: [] };
    try {
      const cut = meta.finish_reason === 'length';
      await r.output.deliver(
        answer.content,
        progress,
        async (p) => {
          // Telegram has the part: until this commits, a crash sends it again on retry.
          const answered = performance.now();
          progress = p;
          const recorded = await this.d.repo.recordDelivery(answer.id, p, lease);
          this.d.metrics.sendWindow.observe({ flow: 'chat' }, (performance.now() - answered) / 1000);
          if (!recorded) throw new LeaseLostError();
        },
        { answerId: answer.id, cut },
      );
      if (cut) this.d.metrics.cut.inc();
      return {
        delivered: true,
        dialog: await this.d.repo.clearPendingAnswer(r.dialog.id, answer.id, lease.token),
      };
    } catch (err) {
      if (err instanceof LeaseLostError || lease.lost) {
        if (!lease.lost) this.d.metrics.leaseLost.inc();
        lease.lost = true;
        r.log.warn(
          { sent: progress.sent.length },
          'reply lease lost while delivering; the job that took it continues',
        );
        return { delivered: false };
      }
      const failure = err instanceof ReplyDeliveryError ? err : undefined;
      if (decideDeliveryError(failure?.permanent === true, this.isLastAttempt) === 'retry') {
        r.log.warn({ err, sent: progress.sent.length }, 'answer delivery interrupted; a retry continues it');
        throw err;
      }
      r.log.error({ err, sent: progress.sent.length }, 'answer could not be delivered');
      this.d.metrics.replies.inc({ outcome: 'undelivered' });
      await this.d.repo.recordDelivery(answer.id, { ...progress, failed: (err as Error).message }, lease);
      const outcome = undeliveredOutcome(progress.sent.length, failure?.blocked === true);
      // As in giveUp: only the runner whose fenced write clears the answer refunds and tells.
      const after = await this.d.tx.run(async () => {
        const cleared = await this.d.repo.clearPendingAnswer(r.dialog.id, answer.id, lease.token);
        if (cleared && outcome.refund) {
          await this.d.subscriptions.refundQuestions(r.dialog.user_id, {
            dialogId: r.dialog.id,
            upToId: meta.answered_up_to ?? answer.id,
            units: meta.quota_units ?? 1,
          });
        }
        return cleared;
      });
      if (after && outcome.notice) {
        await r.output
          .fail(outcome.notice, outcome.inPlaceholder ? progress.placeholderId : null)
          .catch((e: unknown) => r.log.warn({ err: e }, 'could not tell the user about the failure'));
      }
      return { delivered: false, dialog: after };
    }
  }
}

/**
 * The questions not answered yet, from the context just read (newest first), when it holds them
 * all: its user messages past answered_up_to_id. Undefined when it may not — a /reset or the
 * summary moved the context past an unanswered question, or the read stopped at its limit before
 * reaching the oldest one — and the database is asked instead.
 */
function pendingIn(history: Message[], dialog: Dialog): Message[] | undefined {
  const answered = dialog.answered_up_to_id;
  if (answered < Math.max(dialog.context_from_id, dialog.summary_up_to_id)) return undefined;
  const oldest = history.at(-1);
  if (history.length > HISTORY_LIMIT && oldest && oldest.id > answered) return undefined;
  return history.filter((m) => m.role === 'user' && m.id > answered).reverse();
}
