import { type Kysely, sql } from 'kysely';

/**
 * Reply bookkeeping on dialogs: which user messages have been answered, where the context starts
 * after /reset, and a rolling summary of what no longer fits the context window.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .alterTable('dialogs')
    .addColumn('last_user_message_id', 'bigint', (c) => c.notNull().defaultTo(0))
    .addColumn('answered_up_to_id', 'bigint', (c) => c.notNull().defaultTo(0))
    .addColumn('context_from_id', 'bigint', (c) => c.notNull().defaultTo(0))
    .addColumn('summary', 'text')
    .addColumn('summary_up_to_id', 'bigint', (c) => c.notNull().defaultTo(0))
    .execute();
  // The sweeper looks only at dialogs with unanswered user messages.
  await db.schema
    .createIndex('ix_dialogs_updated_at_pending')
    .on('dialogs')
    .column('updated_at')
    .where(sql.ref('last_user_message_id'), '>', sql.ref('answered_up_to_id'))
    .execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.dropIndex('ix_dialogs_updated_at_pending').execute();
  await db.schema
    .alterTable('dialogs')
    .dropColumn('last_user_message_id')
    .dropColumn('answered_up_to_id')
    .dropColumn('context_from_id')
    .dropColumn('summary')
    .dropColumn('summary_up_to_id')
    .execute();
}
