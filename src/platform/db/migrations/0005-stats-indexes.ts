import { type Kysely, sql } from 'kysely';

/**
 * Partial indexes for the dashboard: banned and blocked users are few, and "messages today" counts
 * only what users sent; without these each count scans a table of millions of rows.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createIndex('ix_users_banned_at')
    .on('users')
    .column('banned_at')
    .where(sql.ref('banned_at'), 'is not', null)
    .execute();
  await db.schema
    .createIndex('ix_users_bot_blocked_at')
    .on('users')
    .column('bot_blocked_at')
    .where(sql.ref('bot_blocked_at'), 'is not', null)
    .execute();
  await db.schema
    .createIndex('ix_messages_created_at_user')
    .on('messages')
    .column('created_at')
    .where(sql.ref('role'), '=', 'user')
    .execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.dropIndex('ix_messages_created_at_user').execute();
  await db.schema.dropIndex('ix_users_bot_blocked_at').execute();
  await db.schema.dropIndex('ix_users_banned_at').execute();
}
