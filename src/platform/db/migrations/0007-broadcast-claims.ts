import { type Kysely, sql } from 'kysely';

/**
 * A claim on each broadcast delivery: the attempt that holds a 'sending' row (a token) and until
 * when (a lease). Another attempt may take the row only once the lease has run out, and only the
 * holder may record the result, so a worker whose event loop froze past its queue lock no longer
 * sends a message that its replacement sends too. A row without a lease is free.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .alterTable('broadcast_deliveries')
    .addColumn('claimed_by', 'uuid')
    .addColumn('claimed_until', 'timestamptz')
    .execute();
  // Sends in flight during the upgrade keep what protected them before: two minutes from the claim.
  await sql`
    update broadcast_deliveries set claimed_until = updated_at + interval '2 minutes'
    where status = 'sending'`.execute(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .alterTable('broadcast_deliveries')
    .dropColumn('claimed_until')
    .dropColumn('claimed_by')
    .execute();
}
