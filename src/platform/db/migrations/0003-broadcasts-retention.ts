import { type Kysely, sql } from 'kysely';

/** Broadcasts with one delivery row per recipient, the notification log, and the notifications opt-out. */
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .alterTable('users')
    .addColumn('notifications_enabled', 'boolean', (c) => c.notNull().defaultTo(true))
    .execute();

  await db.schema
    .createTable('broadcasts')
    .addColumn('id', 'bigint', (c) => c.notNull().generatedAlwaysAsIdentity())
    .addColumn('text', 'text', (c) => c.notNull())
    .addColumn('photo', 'text')
    .addColumn('button_text', 'text')
    .addColumn('button_url', 'text')
    .addColumn('audience', 'jsonb', (c) => c.notNull())
    .addColumn('status', 'text', (c) => c.notNull().defaultTo('draft'))
    .addColumn('scheduled_at', 'timestamptz')
    .addColumn('started_at', 'timestamptz')
    .addColumn('finished_at', 'timestamptz')
    .addColumn('total_recipients', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('created_by', 'text')
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addColumn('updated_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addPrimaryKeyConstraint('pk_broadcasts', ['id'])
    .addCheckConstraint(
      'ck_broadcasts_status',
      sql`status in ('draft', 'scheduled', 'running', 'paused', 'completed', 'cancelled')`,
    )
    .addCheckConstraint('ck_broadcasts_button', sql`(button_text is null) = (button_url is null)`)
    .execute();
  await db.schema
    .createIndex('ix_broadcasts_status_scheduled_at')
    .on('broadcasts')
    .columns(['status', 'scheduled_at'])
    .execute();

  await db.schema
    .createTable('broadcast_deliveries')
    .addColumn('broadcast_id', 'bigint', (c) => c.notNull())
    .addColumn('user_id', 'bigint', (c) => c.notNull())
    .addColumn('status', 'text', (c) => c.notNull().defaultTo('pending'))
    .addColumn('attempts', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('error', 'text')
    .addColumn('telegram_message_id', 'bigint')
    .addColumn('sent_at', 'timestamptz')
    .addColumn('updated_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addPrimaryKeyConstraint('pk_broadcast_deliveries', ['broadcast_id', 'user_id'])
    .addForeignKeyConstraint(
      'fk_broadcast_deliveries_broadcast_id_broadcasts',
      ['broadcast_id'],
      'broadcasts',
      ['id'],
      (fk) => fk.onDelete('cascade'),
    )
    .addForeignKeyConstraint('fk_broadcast_deliveries_user_id_users', ['user_id'], 'users', ['id'], (fk) =>
      fk.onDelete('cascade'),
    )
    .addCheckConstraint(
      'ck_broadcast_deliveries_status',
      sql`status in ('pending', 'sending', 'sent', 'blocked', 'failed', 'cancelled')`,
    )
    .execute();
  await db.schema
    .createIndex('ix_broadcast_deliveries_broadcast_id_status')
    .on('broadcast_deliveries')
    .columns(['broadcast_id', 'status'])
    .execute();
  await db.schema
    .createIndex('ix_broadcast_deliveries_user_id')
    .on('broadcast_deliveries')
    .column('user_id')
    .execute();

  await db.schema
    .createTable('notification_log')
    .addColumn('id', 'bigint', (c) => c.notNull().generatedAlwaysAsIdentity())
    .addColumn('user_id', 'bigint', (c) => c.notNull())
    .addColumn('kind', 'text', (c) => c.notNull())
    .addColumn('stage', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('status', 'text', (c) => c.notNull().defaultTo('sending'))
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addColumn('updated_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addPrimaryKeyConstraint('pk_notification_log', ['id'])
    .addUniqueConstraint('uq_notification_log_user_id_kind_stage', ['user_id', 'kind', 'stage'])
    .addForeignKeyConstraint('fk_notification_log_user_id_users', ['user_id'], 'users', ['id'], (fk) =>
      fk.onDelete('cascade'),
    )
    .addCheckConstraint('ck_notification_log_status', sql`status in ('sending', 'sent', 'blocked', 'failed')`)
    .execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.dropTable('notification_log').execute();
  await db.schema.dropTable('broadcast_deliveries').execute();
  await db.schema.dropTable('broadcasts').execute();
  await db.schema.alterTable('users').dropColumn('notifications_enabled').execute();
}
