import { sql } from 'kysely';
import type { Db } from '../../platform/db/database.js';
import type { Dialog, Message, MessageRole } from '../../platform/db/schema.js';

export interface DialogSummary extends Dialog {
  message_count: number;
}

export class DialogsRepository {
  constructor(private readonly db: Db) {}

  /** Serializes dialog changes of one user inside a transaction (one active dialog at a time). */
  async lockUser(userId: number): Promise<void> {
    await this.db.selectFrom('users').select('id').where('id', '=', userId).forUpdate().execute();
  }

  findById(id: number): Promise<Dialog | undefined> {
    return this.db.selectFrom('dialogs').selectAll().where('id', '=', id).executeTakeFirst();
  }

  findActive(userId: number): Promise<Dialog | undefined> {
    return this.db
      .selectFrom('dialogs')
      .selectAll()
      .where('user_id', '=', userId)
      .where('is_active', '=', true)
      .executeTakeFirst();
  }

  countByUser(userId: number): Promise<number> {
    return this.db
      .selectFrom('dialogs')
      .select((eb) => eb.fn.countAll<number>().as('n'))
      .where('user_id', '=', userId)
      .executeTakeFirstOrThrow()
      .then((r) => Number(r.n));
  }

  listRecent(userId: number, limit: number): Promise<DialogSummary[]> {
    return this.db
      .selectFrom('dialogs as d')
      .selectAll('d')
      .select((eb) =>
        eb
          .selectFrom('messages as m')
          .whereRef('m.dialog_id', '=', 'd.id')
          .select((e) => e.fn.countAll<number>().as('n'))
          .as('message_count'),
      )
      .where('d.user_id', '=', userId)
      .orderBy('d.is_active', 'desc')
      .orderBy('d.updated_at', 'desc')
      .limit(limit)
      .execute() as Promise<DialogSummary[]>;
  }

  async deactivateAll(userId: number): Promise<void> {
    await this.db
      .updateTable('dialogs')
      .set({ is_active: false })
      .where('user_id', '=', userId)
      .where('is_active', '=', true)
      .execute();
  }

  insert(userId: number, title: string): Promise<Dialog> {
    return this.db
      .insertInto('dialogs')
      .values({ user_id: userId, title, is_active: true })
      .returningAll()
      .executeTakeFirstOrThrow();
  }

  activate(id: number): Promise<Dialog> {
    return this.db
      .updateTable('dialogs')
      .set({ is_active: true, updated_at: sql`now()` })
      .where('id', '=', id)
      .returningAll()
      .executeTakeFirstOrThrow();
  }

  async delete(id: number): Promise<void> {
    await this.db.deleteFrom('dialogs').where('id', '=', id).execute();
  }

  mostRecent(userId: number): Promise<Dialog | undefined> {
    return this.db
      .selectFrom('dialogs')
      .selectAll()
      .where('user_id', '=', userId)
      .orderBy('updated_at', 'desc')
      .limit(1)
      .executeTakeFirst();
  }

  /** Start the context after the newest message; everything before stays as history. */
  reset(id: number): Promise<Dialog | undefined> {
    return this.db
      .updateTable('dialogs')
      .set({
        context_from_id: sql`coalesce((select max(id) from messages where dialog_id = ${id}), 0)`,
        answered_up_to_id: sql`last_user_message_id`,
        summary: null,
        summary_up_to_id: 0,
        updated_at: sql`now()`,
      })
      .where('id', '=', id)
      .returningAll()
      .executeTakeFirst();
  }

  setTitle(id: number, title: string): Promise<Dialog | undefined> {
    return this.db
      .updateTable('dialogs')
      .set({ title })
      .where('id', '=', id)
      .returningAll()
      .executeTakeFirst();
  }

  // --- messages ---

  async insertMessage(m: {
    dialogId: number;
    role: MessageRole;
    content: string;
    tokens?: number | null;
    telegramMessageId?: number | null;
    metadata?: Record<string, unknown>;
  }): Promise<Message> {
    const row = await this.db
      .insertInto('messages')
      .values({
        dialog_id: m.dialogId,
        role: m.role,
        content: m.content,
        tokens: m.tokens ?? null,
        telegram_message_id: m.telegramMessageId ?? null,
        metadata: JSON.stringify(m.metadata ?? {}),
      })
      .returningAll()
      .executeTakeFirstOrThrow();
    await this.db
      .updateTable('dialogs')
      .set(
        m.role === 'user'
          ? { last_user_message_id: sql`greatest(last_user_message_id, ${row.id})`, updated_at: sql`now()` }
          : { updated_at: sql`now()` },
      )
      .where('id', '=', m.dialogId)
      .execute();
    return row;
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

  async markAnswered(dialogId: number, upToId: number): Promise<void> {
    await this.db
      .updateTable('dialogs')
      .set({ answered_up_to_id: sql`greatest(answered_up_to_id, ${upToId})` })
      .where('id', '=', dialogId)
      .execute();
  }

  async saveSummary(dialogId: number, summary: string, upToId: number): Promise<void> {
    await this.db
      .updateTable('dialogs')
      .set({ summary, summary_up_to_id: upToId })
      .where('id', '=', dialogId)
      .where('summary_up_to_id', '<', upToId)
      .execute();
  }

  /** Dialogs whose newest user message has waited longer than `olderThanS` for a reply. */
  async stuck(olderThanS: number, limit: number): Promise<number[]> {
    const rows = await this.db
      .selectFrom('dialogs')
      .select('id')
      .where(sql<boolean>`last_user_message_id > answered_up_to_id`)
      .where('updated_at', '<', sql<Date>`now() - make_interval(secs => ${olderThanS})`)
      .orderBy('updated_at')
      .limit(limit)
      .execute();
    return rows.map((r) => r.id);
  }

  /** Delete up to `limit` messages older than `days`; returns how many went. */
  async deleteOlderThan(days: number, limit: number): Promise<number> {
    const res = await sql`
      delete from messages where id in (
        select id from messages
        where created_at < now() - make_interval(days => ${days})
        order by id
        limit ${limit}
      )`.execute(this.db);
    return Number(res.numAffectedRows ?? 0);
  }
}
