import { type Kysely, sql } from 'kysely';

/**
 * Dialogs belong to a chat as well as a user: what someone says to the bot in a group never mixes
 * with their private conversation (one active dialog per user and chat; in a private chat the chat
 * id is the user id). Replies get a lease (one generation per dialog at a time, across processes
 * and retries) and a pointer to an answer stored but not yet fully delivered, so a retry finishes
 * the delivery instead of asking the LLM again.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema.alterTable('dialogs').addColumn('chat_id', 'bigint').execute();
  await sql`update dialogs set chat_id = user_id`.execute(db);
  await db.schema
    .alterTable('dialogs')
    .alterColumn('chat_id', (c) => c.setNotNull())
    .addColumn('reply_token', 'uuid')
    .addColumn('reply_until', 'timestamptz')
    .addColumn('pending_answer_id', 'bigint')
    .execute();
  await db.schema.dropIndex('uq_dialogs_user_id_active').execute();
  await db.schema
    .createIndex('uq_dialogs_user_id_chat_id_active')
    .on('dialogs')
    .columns(['user_id', 'chat_id'])
    .unique()
    .where(sql.ref('is_active'), '=', true)
    .execute();
  await db.schema.dropIndex('ix_dialogs_user_id_updated_at').execute();
  await db.schema
    .createIndex('ix_dialogs_user_id_chat_id_updated_at')
    .on('dialogs')
    .columns(['user_id', 'chat_id', 'updated_at'])
    .execute();
  // The sweeper also finds answers whose delivery was interrupted.
  await db.schema.dropIndex('ix_dialogs_updated_at_pending').execute();
  await db.schema
    .createIndex('ix_dialogs_updated_at_pending')
    .on('dialogs')
    .column('updated_at')
    .where((eb) =>
      eb.or([
        eb(sql.ref('last_user_message_id'), '>', sql.ref('answered_up_to_id')),
        eb(sql.ref('pending_answer_id'), 'is not', null),
      ]),
    )
    .execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.dropIndex('ix_dialogs_updated_at_pending').execute();
  await db.schema
    .createIndex('ix_dialogs_updated_at_pending')
    .on('dialogs')
    .column('updated_at')
    .where(sql.ref('last_user_message_id'), '>', sql.ref('answered_up_to_id'))
    .execute();
  await db.schema.dropIndex('ix_dialogs_user_id_chat_id_updated_at').execute();
  await db.schema
    .createIndex('ix_dialogs_user_id_updated_at')
    .on('dialogs')
    .columns(['user_id', 'updated_at'])
    .execute();
  await db.schema.dropIndex('uq_dialogs_user_id_chat_id_active').execute();
  // Back to one active dialog per user: the private one stays active, group dialogs become history.
  await sql`update dialogs set is_active = false where is_active and chat_id <> user_id`.execute(db);
  await db.schema
    .createIndex('uq_dialogs_user_id_active')
    .on('dialogs')
    .column('user_id')
    .unique()
    .where(sql.ref('is_active'), '=', true)
    .execute();
  await db.schema
    .alterTable('dialogs')
    .dropColumn('chat_id')
    .dropColumn('reply_token')
    .dropColumn('reply_until')
    .dropColumn('pending_answer_id')
    .execute();
}
