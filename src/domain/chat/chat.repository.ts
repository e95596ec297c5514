import { type ExpressionBuilder, type RawBuilder, sql } from 'kysely';
import type { DB, Dialog, Message, MessageRole } from '../../platform/db/schema.js';
import { Repository } from '../../platform/db/transactor.js';
import type { AfterTake } from '../subscriptions/subscriptions.repository.js';

export interface NewMessage {
  dialogId: number;
  role: MessageRole;
  content: string;
  tokens?: number | null;
  telegramMessageId?: number | null;
  metadata?: Record<string, unknown>;
}

/** Nobody holds the dialog's reply lease (never taken, given back, or run out). */
const leaseFree = (eb: ExpressionBuilder<DB, 'dialogs'>) =>
  eb.or([eb('reply_until', 'is', null), eb('reply_until', '<', sql<Date>`now()`)]);

/** The dialog has questions not answered yet, or an answer not fully delivered. */
const hasWork = sql<boolean>`(pending_answer_id is not null or last_user_message_id > answered_up_to_id)`;

/**
 * The lease columns of a statement that ends a round: given back when `idle` (what the row says is
 * left to do, with this statement's own changes written into the condition), else kept. SET
 * expressions see the row as it was, and a concurrent write to it (a question stored meanwhile) is
 * waited for and seen, so no question is left behind a released lease.
 */
const releasedIfIdle = (idle: RawBuilder<boolean>) => ({
  reply_token: sql<string | null>`case when ${idle} then null else reply_token end`,
  reply_until: sql<Date | null>`case when ${idle} then null else reply_until end`,
});

/** A user's message to the AI as Telegram delivered it. */
export interface Question {
  userId: number;
  chatId: number;
  text: string;
  telegramMessageId: number;
}

/** How far back a re-delivered question is looked for: more than arrive while one update is retried. */
const RECENT_QUESTIONS = 20;

/** A reply lease as the writes it fences need it. */
export interface LeaseRef {
  dialogId: number;
  token: string;
}

/**
 * The chat's bookkeeping on dialogs and messages: questions and answers, the reply lease, delivery
 * progress, the rolling summary. Every write a reply makes is fenced by its lease token.
 */
export class ChatRepository extends Repository {
  /** Store a message and keep the dialog's bookkeeping in step, in one statement. */
  insertMessage(m: NewMessage): Promise<Message> {
    return this.insertWithBookkeeping(m, {
      last_user_message_id:
        m.role === 'user'
          ? sql`greatest(last_user_message_id, (select id from m))`
          : sql`last_user_message_id`,
    });
  }

  /**
   * Store an answer, mark the user messages up to `upToId` answered, and remember the answer as
   * pending delivery: all in one statement, so a crash leaves either a question to answer or an
   * answer to deliver, never both and never neither. Only while `token` still holds the reply lease
   * (the dialog row is locked for the statement, so a takeover waits for it or fences it off);
   * undefined when it was lost (another job answers).
   */
  async storeAnswer(m: NewMessage, upToId: number, token: string): Promise<Message | undefined> {
    const row = await this.db
      .with('held', (db) =>
        db
          .selectFrom('dialogs')
          .select('id')
          .where('id', '=', m.dialogId)
          .where('reply_token', '=', token)
          .forUpdate(),
      )
      .with('m', (db) =>
        db
          .insertInto('messages')
          .columns(['dialog_id', 'role', 'content', 'tokens', 'telegram_message_id', 'metadata'])
          .expression((eb) =>
            eb
              .selectFrom('held')
              .select([
                'held.id',
                sql.val(m.role).as('role'),
                sql.val(m.content).as('content'),
                sql.val(m.tokens ?? null).as('tokens'),
                sql.val(m.telegramMessageId ?? null).as('telegram_message_id'),
                sql`${JSON.stringify(m.metadata ?? {})}::jsonb`.as('metadata'),
              ]),
          )
          .returningAll(),
      )
      .with('d', (db) =>
        db
          .updateTable('dialogs')
          .set({
            answered_up_to_id: sql`greatest(answered_up_to_id, ${upToId})`,
            pending_answer_id: sql`(select id from m)`,
            updated_at: sql`now()`,
          })
          .where('id', '=', m.dialogId)
          .where(({ exists, selectFrom }) => exists(selectFrom('m').select('id'))),
      )
      .selectFrom('m')
      .selectAll()
      .executeTakeFirst();
    return row as Message | undefined;
  }

  /**
   * Where a question goes: the active dialog of its chat, and whether one of its recent questions
   * already is this Telegram message (a re-delivered update whose first attempt committed). One
   * query; undefined when the chat has no active dialog yet.
   */
  async questionTarget(q: Question): Promise<{ dialogId: number; stored: boolean } | undefined> {
    const row = await this.db
      .selectFrom('dialogs as d')
      .select((eb) => [
        'd.id',
        eb
          .exists(
            eb
              .selectFrom((sub) =>
                sub
                  .selectFrom('messages')
                  .select('telegram_message_id')
                  .whereRef('dialog_id', '=', 'd.id')
                  .orderBy('id', 'desc')
                  .limit(RECENT_QUESTIONS)
                  .as('recent'),
              )
              .select('recent.telegram_message_id')
              .where('recent.telegram_message_id', '=', q.telegramMessageId),
          )
          .as('stored'),
      ])
      .where('d.user_id', '=', q.userId)
      .where('d.chat_id', '=', q.chatId)
      .where('d.is_active', '=', true)
      .executeTakeFirst();
    return row && { dialogId: row.id, stored: Boolean(row.stored) };
  }

  /**
   * Store the question in the statement of its quota take (see SubscriptionsService.takeMessageWith):
   * stored only when the take succeeded, with the dialog's bookkeeping. Undefined when it was refused.
   */
  async storeQuestion(db: AfterTake, dialogId: number, q: Question): Promise<number | undefined> {
    const row = await db
      .with('m', (qc) =>
        qc
          .insertInto('messages')
          .columns(['dialog_id', 'role', 'content', 'telegram_message_id'])
          .expression((eb) =>
            eb
              .selectFrom('take')
              .select([
                sql.val(dialogId).as('dialog_id'),
                sql.val('user').as('role'),
                sql.val(q.text).as('content'),
                sql.val(q.telegramMessageId).as('telegram_message_id'),
              ]),
          )
          .returning('id'),
      )
      .with('d', (qc) =>
        qc
          .updateTable('dialogs')
          .set({
            last_user_message_id: sql`greatest(last_user_message_id, (select id from m))`,
            updated_at: sql`now()`,
          })
          .where('id', '=', dialogId)
          .where(({ exists, selectFrom }) => exists(selectFrom('m').select('id'))),
      )
      .selectFrom('m')
      .select('id')
      .executeTakeFirst();
    return row?.id;
  }

  private async insertWithBookkeeping(
    m: NewMessage,
    dialog: Record<string, ReturnType<typeof sql>>,
  ): Promise<Message> {
    return this.db
      .with('m', (db) =>
        db
          .insertInto('messages')
          .values({
            dialog_id: m.dialogId,
            role: m.role,
            content: m.content,
            tokens: m.tokens ?? null,
            telegram_message_id: m.telegramMessageId ?? null,
            metadata: JSON.stringify(m.metadata ?? {}),
          })
          .returningAll(),
      )
      .with('d', (db) =>
        db
          .updateTable('dialogs')
          .set({ ...dialog, updated_at: sql`now()` })
          .where('id', '=', m.dialogId),
      )
      .selectFrom('m')
      .selectAll()
      .executeTakeFirstOrThrow() as Promise<Message>;
  }

  findMessage(id: number): Promise<Message | undefined> {
    return this.db.selectFrom('messages').selectAll().where('id', '=', id).executeTakeFirst();
  }

  /**
   * Progress of an answer's delivery (the Telegram ids of the parts sent so far), while `lease`
   * still holds the dialog's reply lease; false when it was lost.
   */
  async recordDelivery(
    messageId: number,
    delivery: Record<string, unknown>,
    lease: LeaseRef,
  ): Promise<boolean> {
    const json = JSON.stringify(delivery);
    const res = await this.db
      .updateTable('messages')
      .set({
        metadata: sql`metadata || jsonb_build_object('delivery', ${json}::jsonb)`,
        telegram_message_id: sql`coalesce(telegram_message_id, (${json}::jsonb -> 'sent' ->> 0)::bigint)`,
      })
      .where('id', '=', messageId)
      .where(({ exists, selectFrom }) =>
        exists(
          selectFrom('dialogs')
            .select('id')
            .where('id', '=', lease.dialogId)
            .where('reply_token', '=', lease.token),
        ),
      )
      .executeTakeFirst();
    return Number(res.numUpdatedRows) > 0;
  }

  /**
   * The stored answer is delivered (or given up on): the dialog no longer waits for it. Only while
   * `token` holds the reply lease, which goes back in the same statement when nothing is left to
   * do. The dialog after it; undefined when nothing moved (the lease was lost, or another runner
   * cleared it first).
   */
  clearPendingAnswer(dialogId: number, messageId: number, token: string): Promise<Dialog | undefined> {
    return this.db
      .updateTable('dialogs')
      .set({
        pending_answer_id: null,
        ...releasedIfIdle(sql<boolean>`last_user_message_id <= answered_up_to_id`),
      })
      .where('id', '=', dialogId)
      .where('pending_answer_id', '=', messageId)
      .where('reply_token', '=', token)
      .returningAll()
      .executeTakeFirst();
  }

  /**
   * Mark the questions up to `upToId` answered with no answer to deliver (stopped before any text,
   * or given up on). Only while `token` holds the reply lease and only when they were not marked
   * already, so a runner that runs this twice moves the row once; the lease goes back in the same
   * statement when nothing is left to do. The dialog after it; undefined when nothing moved.
   */
  markAnswered(dialogId: number, upToId: number, token: string): Promise<Dialog | undefined> {
    return this.db
      .updateTable('dialogs')
      .set({
        answered_up_to_id: upToId,
        ...releasedIfIdle(sql<boolean>`pending_answer_id is null and last_user_message_id <= ${upToId}`),
      })
      .where('id', '=', dialogId)
      .where('answered_up_to_id', '<', upToId)
      .where('reply_token', '=', token)
      .returningAll()
      .executeTakeFirst();
  }

  /**
   * Take the dialog's reply lease when it has work (questions or an answer to deliver) and nobody
   * holds it (or the holder's lease ran out), reading the dialog in the same statement; when it is
   * held, how long the holder's lease still runs (read in that statement too, from the row as it
   * was). Undefined when there is nothing to do (or no such dialog): no lease is taken for nothing.
   */
  async claimReply(
    dialogId: number,
    token: string,
    leaseMs: number,
  ): Promise<{ dialog: Dialog } | { heldForMs: number } | undefined> {
    const row = await this.db
      .with('claimed', (db) =>
        db
          .updateTable('dialogs')
          .set({ reply_token: token, reply_until: sql`now() + make_interval(secs => ${leaseMs / 1000})` })
          .where('id', '=', dialogId)
          .where(leaseFree)
          .where(hasWork)
          .returningAll(),
      )
      .selectFrom('dialogs as before')
      .leftJoin('claimed', 'claimed.id', 'before.id')
      .selectAll('claimed')
      .select(
        sql<number | null>`case when before.reply_until > now()
          then extract(epoch from before.reply_until - now()) * 1000 end`.as('held_ms'),
      )
      .where('before.id', '=', dialogId)
      .executeTakeFirst();
    if (!row) return undefined;
    const { held_ms, ...claimed } = row;
    if (claimed.reply_token === token) return { dialog: claimed as Dialog };
    return held_ms === null ? undefined : { heldForMs: Math.ceil(Number(held_ms)) };
  }

  /** Extend a held lease; false when it was lost (expired and taken by someone else). */
  async renewReply(dialogId: number, token: string, leaseMs: number): Promise<boolean> {
    const res = await this.db
      .updateTable('dialogs')
      .set({ reply_until: sql`now() + make_interval(secs => ${leaseMs / 1000})` })
      .where('id', '=', dialogId)
      .where('reply_token', '=', token)
      .executeTakeFirst();
    return Number(res.numUpdatedRows) > 0;
  }

  /** Give the lease back (only if this token still holds it). */
  async releaseReply(dialogId: number, token: string): Promise<void> {
    await this.db
      .updateTable('dialogs')
      .set({ reply_token: null, reply_until: null })
      .where('id', '=', dialogId)
      .where('reply_token', '=', token)
      .execute();
  }

  /** User messages not answered yet, oldest first. */
  pendingMessages(dialog: Dialog): Promise<Message[]> {
    return this.db
      .selectFrom('messages')
      .selectAll()
      .where('dialog_id', '=', dialog.id)
      .where('role', '=', 'user')
      .where('id', '>', dialog.answered_up_to_id)
      .orderBy('id')
      .execute();
  }

  /**
   * The newest messages of the current context (after /reset and after the summary), newest first.
   * An answer stored after a /reset to a message from before it belongs to the old context.
   */
  contextMessages(dialog: Dialog, limit: number): Promise<Message[]> {
    const from = Math.max(dialog.context_from_id, dialog.summary_up_to_id);
    return this.db
      .selectFrom('messages')
      .selectAll()
      .where('dialog_id', '=', dialog.id)
      .where('id', '>', from)
      .where('role', '<>', 'system')
      .where(
        sql<boolean>`not (role = 'assistant' and coalesce((metadata->>'answered_up_to')::bigint, id) <= ${from})`,
      )
      .orderBy('id', 'desc')
      .limit(limit)
      .execute();
  }

  async saveSummary(dialogId: number, summary: string, upToId: number): Promise<void> {
    await this.db
      .updateTable('dialogs')
      .set({ summary, summary_up_to_id: upToId })
      .where('id', '=', dialogId)
      .where('summary_up_to_id', '<', upToId)
      // A summary written from before a /reset belongs to the old context.
      .where('context_from_id', '<', upToId)
      .execute();
  }

  /**
   * Dialogs whose newest user message has waited longer than `olderThanS` for a reply, or whose
   * answer was not fully delivered, and that nobody is working on.
   */
  async stuck(olderThanS: number, limit: number): Promise<number[]> {
    const rows = await this.db
      .selectFrom('dialogs')
      .select('id')
      .where(hasWork)
      .where('updated_at', '<', sql<Date>`now() - make_interval(secs => ${olderThanS})`)
      .where(leaseFree)
      .orderBy('updated_at')
      .limit(limit)
      .execute();
    return rows.map((r) => r.id);
  }
}
