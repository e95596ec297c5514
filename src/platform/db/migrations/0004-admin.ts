import { type Kysely, sql } from 'kysely';

/** Admin accounts, sessions and the audit log; trigram search over users for the admin panel. */
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable('admin_users')
    .addColumn('id', 'bigint', (c) => c.notNull().generatedAlwaysAsIdentity())
    .addColumn('username', 'text', (c) => c.notNull())
    .addColumn('password_hash', 'text', (c) => c.notNull())
    .addColumn('role', 'text', (c) => c.notNull())
    .addColumn('telegram_user_id', 'bigint')
    .addColumn('failed_logins', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('locked_until', 'timestamptz')
    .addColumn('last_login_at', 'timestamptz')
    .addColumn('disabled_at', 'timestamptz')
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addColumn('updated_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addPrimaryKeyConstraint('pk_admin_users', ['id'])
    .addUniqueConstraint('uq_admin_users_username', ['username'])
    .addCheckConstraint('ck_admin_users_role', sql`role in ('owner', 'admin', 'viewer')`)
    .execute();

  await db.schema
    .createTable('admin_sessions')
    .addColumn('id', 'text', (c) => c.notNull())
    .addColumn('admin_user_id', 'bigint', (c) => c.notNull())
    .addColumn('csrf_token', 'text', (c) => c.notNull())
    .addColumn('ip', 'text')
    .addColumn('user_agent', 'text')
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addColumn('last_seen_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addColumn('expires_at', 'timestamptz', (c) => c.notNull())
    .addPrimaryKeyConstraint('pk_admin_sessions', ['id'])
    .addForeignKeyConstraint(
      'fk_admin_sessions_admin_user_id_admin_users',
      ['admin_user_id'],
      'admin_users',
      ['id'],
      (fk) => fk.onDelete('cascade'),
    )
    .execute();
  await db.schema
    .createIndex('ix_admin_sessions_expires_at')
    .on('admin_sessions')
    .column('expires_at')
    .execute();
  await db.schema
    .createIndex('ix_admin_sessions_admin_user_id')
    .on('admin_sessions')
    .column('admin_user_id')
    .execute();

  await db.schema
    .createTable('admin_audit_log')
    .addColumn('id', 'bigint', (c) => c.notNull().generatedAlwaysAsIdentity())
    .addColumn('admin_user_id', 'bigint')
    .addColumn('admin_username', 'text', (c) => c.notNull())
    .addColumn('action', 'text', (c) => c.notNull())
    .addColumn('target_type', 'text')
    .addColumn('target_id', 'text')
    .addColumn('before', 'jsonb')
    .addColumn('after', 'jsonb')
    .addColumn('ip', 'text')
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addPrimaryKeyConstraint('pk_admin_audit_log', ['id'])
    .addForeignKeyConstraint(
      'fk_admin_audit_log_admin_user_id_admin_users',
      ['admin_user_id'],
      'admin_users',
      ['id'],
      (fk) => fk.onDelete('set null'),
    )
    .execute();
  await db.schema
    .createIndex('ix_admin_audit_log_created_at')
    .on('admin_audit_log')
    .column('created_at')
    .execute();

  // Users are searched by name or username fragments; trigram GIN keeps it fast at millions of rows.
  await sql`create extension if not exists pg_trgm`.execute(db);
  await sql`
    create index ix_users_search on users using gin (
      (coalesce(username, '') || ' ' || first_name || ' ' || coalesce(last_name, '')) gin_trgm_ops
    )`.execute(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.dropIndex('ix_users_search').execute();
  await db.schema.dropTable('admin_audit_log').execute();
  await db.schema.dropTable('admin_sessions').execute();
  await db.schema.dropTable('admin_users').execute();
}
