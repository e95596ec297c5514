import { sql, type UpdateObject } from 'kysely';
import type { DB, Dialog, Message } from '../../platform/db/schema.js';
import { Repository } from '../../platform/db/transactor.js';

export interface DialogSummary extends Dialog {
  message_count: number;
}

/** Whose dialogs, in which chat: a user's private dialogs and their dialogs in each group are apart. */
export interface DialogScope {
  userId: number;
  chatId: number;
}

export class DialogsRepository extends Repository {
  /** Serializes dialog changes of one user inside a transaction (one active dialog at a time). */
  async lockUser(userId: number): Promise<void> {
    await this.db.selectFrom('users').select('id').where('id', '=', userId).forUpdate().execute();
  }

  findById(id: number): Promise<Dialog | undefined> {
    return this.db.selectFrom('dialogs').selectAll().where('id', '=', id).executeTakeFirst();
  }

  findActive(scope: DialogScope): Promise<Dialog | undefined> {
    return this.inScope(scope).where('is_active', '=', true).executeTakeFirst();
  }

  /** A dialog belongs to one user in one chat: the same user has other dialogs in a group. */
  private inScope(scope: DialogScope) {
    return this.db
      .selectFrom('dialogs')
      .selectAll()
      .where('user_id', '=', scope.userId)
      .where('chat_id', '=', scope.chatId);
  }

  countByUser(userId: number): Promise<number> {
    return this.db
      .selectFrom('dialogs')
      .select((eb) => eb.fn.countAll<number>().as('n'))
      .where('user_id', '=', userId)
      .executeTakeFirstOrThrow()
      .then((r) => Number(r.n));
  }

  /** Dialogs with how many messages each holds. */
  private withMessageCount() {
    return this.db
      .selectFrom('dialogs as d')
      .selectAll('d')
      .select((eb) =>
        eb
          .selectFrom('messages as m')
          .whereRef('m.dialog_id', '=', 'd.id')
          .select((e) => e.fn.countAll<number>().as('n'))
          .as('message_count'),
      );
  }

  listRecent(scope: DialogScope, limit: number): Promise<DialogSummary[]> {
    return this.withMessageCount()
      .where('d.user_id', '=', scope.userId)
      .where('d.chat_id', '=', scope.chatId)
      .orderBy('d.is_active', 'desc')
      .orderBy('d.updated_at', 'desc')
      .limit(limit)
      .execute() as Promise<DialogSummary[]>;
  }

  /** Every dialog of a user in all chats, most recently used first (for the admin panel). */
  listByUser(userId: number, limit: number): Promise<DialogSummary[]> {
    return this.withMessageCount()
      .where('d.user_id', '=', userId)
      .orderBy('d.updated_at', 'desc')
      .orderBy('d.id', 'desc')
      .limit(limit)
      .execute() as Promise<DialogSummary[]>;
  }

  /** The newest `limit` messages of a dialog, oldest first. */
  async recentMessages(dialogId: number, limit: number): Promise<Message[]> {
    const rows = await this.db
      .selectFrom('messages')
      .selectAll()
      .where('dialog_id', '=', dialogId)
      .orderBy('id', 'desc')
      .limit(limit)
      .execute();
    return rows.reverse();
  }

  async deactivateAll(scope: DialogScope): Promise<void> {
    await this.db
      .updateTable('dialogs')
      .set({ is_active: false })
      .where('user_id', '=', scope.userId)
      .where('chat_id', '=', scope.chatId)
      .where('is_active', '=', true)
      .execute();
  }

  insert(scope: DialogScope, title: string): Promise<Dialog> {
    return this.db
      .insertInto('dialogs')
      .values({ user_id: scope.userId, chat_id: scope.chatId, title, is_active: true })
      .returningAll()
      .executeTakeFirstOrThrow();
  }

  activate(id: number): Promise<Dialog> {
    return this.update(id, { is_active: true }).executeTakeFirstOrThrow();
  }

  /** Moves updated_at with the change: the dialog lists put the most recently changed first. */
  private update(id: number, patch: UpdateObject<DB, 'dialogs'>) {
    return this.db
      .updateTable('dialogs')
      .set({ ...patch, updated_at: sql`now()` })
      .where('id', '=', id)
      .returningAll();
  }

  async delete(id: number): Promise<void> {
    await this.db.deleteFrom('dialogs').where('id', '=', id).execute();
  }

  mostRecent(scope: DialogScope): Promise<Dialog | undefined> {
    return this.inScope(scope).orderBy('updated_at', 'desc').limit(1).executeTakeFirst();
  }

  /** Start the context after the newest message; everything before stays as history. */
  reset(id: number): Promise<Dialog | undefined> {
    return this.update(id, {
      context_from_id: sql`coalesce((select max(id) from messages where dialog_id = ${id}), 0)`,
      answered_up_to_id: sql`last_user_message_id`,
      summary: null,
      summary_up_to_id: 0,
    }).executeTakeFirst();
  }

  /** The dialog's own system prompt (null: the one from the settings). */
  setSystemPrompt(id: number, prompt: string | null): Promise<Dialog | undefined> {
    return this.update(id, { system_prompt: prompt }).executeTakeFirst();
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
