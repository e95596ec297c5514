import { type Kysely, sql } from 'kysely';

/**
 * Sign-in without lockouts, and a first owner who cannot keep a known password. Failed sign-ins are
 * throttled by source address (Redis or memory), never by locking the account, so the per-account
 * failure count and lock go. `password_change_required`: the account must choose a new password
 * before anything else (the owner created at first start). `bootstrap_pending`: that owner's
 * first-start credential has not been used yet, so each start offers a new one.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .alterTable('admin_users')
    .dropColumn('failed_logins')
    .dropColumn('locked_until')
    .addColumn('password_change_required', 'boolean', (c) => c.notNull().defaultTo(false))
    .addColumn('bootstrap_pending', 'boolean', (c) => c.notNull().defaultTo(false))
    .execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .alterTable('admin_users')
    .dropColumn('bootstrap_pending')
    .dropColumn('password_change_required')
    .addColumn('failed_logins', 'integer', (c) => c.notNull().defaultTo(sql`0`))
    .addColumn('locked_until', 'timestamptz')
    .execute();
}
