import { type Kysely, sql } from 'kysely';

/** Users, subscriptions, dialogs, messages and runtime settings. */
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable('users')
    .addColumn('id', 'bigint', (c) => c.notNull())
    .addColumn('username', 'text')
    .addColumn('first_name', 'text', (c) => c.notNull().defaultTo(''))
    .addColumn('last_name', 'text')
    .addColumn('language_code', 'text')
    .addColumn('language', 'text')
    .addColumn('is_admin', 'boolean', (c) => c.notNull().defaultTo(false))
    .addColumn('banned_at', 'timestamptz')
    .addColumn('ban_reason', 'text')
    .addColumn('bot_blocked_at', 'timestamptz')
    .addColumn('utm_source', 'text')
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addColumn('updated_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addColumn('last_active_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addPrimaryKeyConstraint('pk_users', ['id'])
    .addCheckConstraint('ck_users_id_positive', sql`id > 0`)
    .execute();
  await db.schema.createIndex('ix_users_created_at').on('users').column('created_at').execute();
  await db.schema.createIndex('ix_users_last_active_at').on('users').column('last_active_at').execute();

  await db.schema
    .createTable('subscriptions')
    .addColumn('id', 'bigint', (c) => c.notNull().generatedAlwaysAsIdentity())
    .addColumn('user_id', 'bigint', (c) => c.notNull())
    .addColumn('plan', 'text', (c) => c.notNull())
    .addColumn('status', 'text', (c) => c.notNull().defaultTo('active'))
    .addColumn('started_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addColumn('expires_at', 'timestamptz')
    .addColumn('messages_limit', 'integer', (c) => c.notNull())
    .addColumn('messages_used', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('images_limit', 'integer', (c) => c.notNull())
    .addColumn('images_used', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('quota_period_start', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addColumn('updated_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addPrimaryKeyConstraint('pk_subscriptions', ['id'])
    .addUniqueConstraint('uq_subscriptions_user_id', ['user_id'])
    .addForeignKeyConstraint('fk_subscriptions_user_id_users', ['user_id'], 'users', ['id'], (fk) =>
      fk.onDelete('cascade'),
    )
    .addCheckConstraint('ck_subscriptions_status', sql`status in ('active', 'expired')`)
    .addCheckConstraint('ck_subscriptions_plan', sql`length(plan) > 0`)
    .addCheckConstraint(
      'ck_subscriptions_usage',
      sql`messages_used >= 0 and images_used >= 0 and messages_limit >= 0 and images_limit >= 0`,
    )
    .execute();
  await db.schema.createIndex('ix_subscriptions_plan').on('subscriptions').column('plan').execute();
  // The expiry job scans only paid plans that have an end date.
  await db.schema
    .createIndex('ix_subscriptions_expires_at')
    .on('subscriptions')
    .column('expires_at')
    .where(sql.ref('expires_at'), 'is not', null)
    .execute();

  await db.schema
    .createTable('dialogs')
    .addColumn('id', 'bigint', (c) => c.notNull().generatedAlwaysAsIdentity())
    .addColumn('user_id', 'bigint', (c) => c.notNull())
    .addColumn('title', 'text', (c) => c.notNull())
    .addColumn('system_prompt', 'text')
    .addColumn('is_active', 'boolean', (c) => c.notNull().defaultTo(false))
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addColumn('updated_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addPrimaryKeyConstraint('pk_dialogs', ['id'])
    .addForeignKeyConstraint('fk_dialogs_user_id_users', ['user_id'], 'users', ['id'], (fk) =>
      fk.onDelete('cascade'),
    )
    .execute();
  await db.schema
    .createIndex('ix_dialogs_user_id_updated_at')
    .on('dialogs')
    .columns(['user_id', 'updated_at'])
    .execute();
  // At most one active dialog per user.
  await db.schema
    .createIndex('uq_dialogs_user_id_active')
    .on('dialogs')
    .column('user_id')
    .unique()
    .where(sql.ref('is_active'), '=', true)
    .execute();

  await db.schema
    .createTable('messages')
    .addColumn('id', 'bigint', (c) => c.notNull().generatedAlwaysAsIdentity())
    .addColumn('dialog_id', 'bigint', (c) => c.notNull())
    .addColumn('role', 'text', (c) => c.notNull())
    .addColumn('content', 'text', (c) => c.notNull())
    .addColumn('metadata', 'jsonb', (c) => c.notNull().defaultTo(sql`'{}'::jsonb`))
    .addColumn('tokens', 'integer')
    .addColumn('telegram_message_id', 'bigint')
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addPrimaryKeyConstraint('pk_messages', ['id'])
    .addForeignKeyConstraint('fk_messages_dialog_id_dialogs', ['dialog_id'], 'dialogs', ['id'], (fk) =>
      fk.onDelete('cascade'),
    )
    .addCheckConstraint('ck_messages_role', sql`role in ('system', 'user', 'assistant')`)
    .execute();
  await db.schema
    .createIndex('ix_messages_dialog_id_id')
    .on('messages')
    .columns(['dialog_id', 'id'])
    .execute();
  await db.schema.createIndex('ix_messages_created_at').on('messages').column('created_at').execute();

  await db.schema
    .createTable('settings')
    .addColumn('key', 'text', (c) => c.notNull())
    .addColumn('value', 'jsonb', (c) => c.notNull())
    .addColumn('description', 'text')
    .addColumn('updated_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addPrimaryKeyConstraint('pk_settings', ['key'])
    .execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.dropTable('settings').execute();
  await db.schema.dropTable('messages').execute();
  await db.schema.dropTable('dialogs').execute();
  await db.schema.dropTable('subscriptions').execute();
  await db.schema.dropTable('users').execute();
}
