import { type Kysely, sql } from 'kysely';

/**
 * Image generation jobs. The row is the truth about a picture: its prompt and parameters, where it
 * is (queued, running on a ComfyUI backend, delivering, or one of the final states), which ComfyUI
 * run is current (`run` and `run_key` make the prompt id, so a crashed attempt finds its run again
 * and a real retry makes a new one), who holds it (a token and a lease, like broadcast deliveries),
 * the image unit it took (`quota_source`, and the recorded use `quota_use_id` that gives it back)
 * and when that unit was given back (at most once: only the one transition into failed, cancelled
 * or timed_out sets it), and where the PNG is stored.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable('image_jobs')
    .addColumn('id', 'bigint', (c) => c.notNull().generatedAlwaysAsIdentity())
    .addColumn('user_id', 'bigint', (c) => c.notNull())
    .addColumn('chat_id', 'bigint', (c) => c.notNull())
    .addColumn('dialog_id', 'bigint')
    .addColumn('source', 'text', (c) => c.notNull())
    .addColumn('parent_id', 'bigint')
    .addColumn('source_message_id', 'bigint')
    .addColumn('prompt', 'text')
    .addColumn('negative_prompt', 'text')
    .addColumn('workflow', 'text', (c) => c.notNull())
    .addColumn('params', 'jsonb', (c) => c.notNull().defaultTo(sql`'{}'::jsonb`))
    .addColumn('nsfw', 'boolean', (c) => c.notNull().defaultTo(false))
    .addColumn('status', 'text', (c) => c.notNull().defaultTo('queued'))
    .addColumn('run', 'integer', (c) => c.notNull().defaultTo(1))
    .addColumn('run_key', 'uuid', (c) => c.notNull())
    .addColumn('prompt_id', 'text')
    .addColumn('backend', 'text')
    .addColumn('excluded_backends', sql`text[]`, (c) => c.notNull().defaultTo(sql`'{}'::text[]`))
    .addColumn('attempts', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('claim_token', 'uuid')
    .addColumn('lease_until', 'timestamptz')
    .addColumn('deadline_at', 'timestamptz')
    .addColumn('placeholder_message_id', 'bigint')
    .addColumn('object_key', 'text')
    .addColumn('telegram_file_id', 'text')
    .addColumn('telegram_message_id', 'bigint')
    .addColumn('error', 'text')
    .addColumn('quota_source', 'text')
    .addColumn('quota_use_id', 'bigint')
    .addColumn('quota_returned_at', 'timestamptz')
    .addColumn('queued_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addColumn('started_at', 'timestamptz')
    .addColumn('generated_at', 'timestamptz')
    .addColumn('finished_at', 'timestamptz')
    .addColumn('updated_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addPrimaryKeyConstraint('pk_image_jobs', ['id'])
    .addUniqueConstraint('uq_image_jobs_run_key', ['run_key'])
    .addForeignKeyConstraint('fk_image_jobs_user_id_users', ['user_id'], 'users', ['id'], (fk) =>
      fk.onDelete('cascade'),
    )
    .addForeignKeyConstraint('fk_image_jobs_dialog_id_dialogs', ['dialog_id'], 'dialogs', ['id'], (fk) =>
      fk.onDelete('set null'),
    )
    .addForeignKeyConstraint(
      'fk_image_jobs_parent_id_image_jobs',
      ['parent_id'],
      'image_jobs',
      ['id'],
      (fk) => fk.onDelete('set null'),
    )
    .addForeignKeyConstraint(
      'fk_image_jobs_quota_use_id_image_credit_uses',
      ['quota_use_id'],
      'image_credit_uses',
      ['id'],
      (fk) => fk.onDelete('set null'),
    )
    .addCheckConstraint(
      'ck_image_jobs_status',
      sql`status in ('queued', 'running', 'delivering', 'succeeded', 'undelivered', 'failed', 'cancelled', 'timed_out')`,
    )
    .addCheckConstraint('ck_image_jobs_source', sql`source in ('command', 'dialog', 'again', 'variation')`)
    .addCheckConstraint(
      'ck_image_jobs_quota_source',
      sql`quota_source is null or quota_source in ('plan', 'pack')`,
    )
    .addCheckConstraint('ck_image_jobs_run', sql`run >= 1`)
    // Only the dialog picture and the variation have their prompt written by the worker.
    .addCheckConstraint(
      'ck_image_jobs_prompt',
      sql`prompt is not null or source in ('dialog', 'variation') or status in ('failed', 'cancelled', 'timed_out')`,
    )
    .execute();
  // A user's history, newest first.
  await db.schema
    .createIndex('ix_image_jobs_user_id_id')
    .on('image_jobs')
    .columns(['user_id', 'id'])
    .execute();
  // Unfinished jobs: a user's place in line, and the sweeper.
  await db.schema
    .createIndex('ix_image_jobs_user_id_open')
    .on('image_jobs')
    .columns(['user_id', 'id'])
    .where(sql<boolean>`status in ('queued', 'running', 'delivering')`)
    .execute();
  await db.schema
    .createIndex('ix_image_jobs_updated_at_open')
    .on('image_jobs')
    .column('updated_at')
    .where(sql<boolean>`status in ('queued', 'running', 'delivering')`)
    .execute();
  // The admin gallery filtered by status.
  await db.schema.createIndex('ix_image_jobs_status_id').on('image_jobs').columns(['status', 'id']).execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.dropTable('image_jobs').execute();
}
