import { sql } from 'kysely';
import type { Db } from '../../src/platform/db/database.js';

/**
 * A comparable description of the public schema: tables, columns, constraints and indexes
 * (Kysely's own bookkeeping tables excluded). Columns are compared by name, not position: a down
 * migration that adds back a dropped column cannot put it where it was, and no query depends on
 * the order.
 */
export async function dumpSchema(
  db: Db,
): Promise<{ columns: unknown[]; constraints: unknown[]; indexes: unknown[]; extensions: unknown[] }> {
  const skip = ['kysely_migration', 'kysely_migration_lock'];
  const columns = await sql<Record<string, unknown>>`
    select table_name, column_name, data_type, udt_name, character_maximum_length, numeric_precision,
      is_nullable, column_default, is_identity
    from information_schema.columns
    where table_schema = 'public' and table_name <> all(${skip})
    order by table_name, column_name`.execute(db);
  const constraints = await sql<Record<string, unknown>>`
    select rel.relname as table_name, con.conname, con.contype, pg_get_constraintdef(con.oid) as def
    from pg_constraint con join pg_class rel on rel.oid = con.conrelid
    join pg_namespace ns on ns.oid = rel.relnamespace
    where ns.nspname = 'public' and rel.relname <> all(${skip}) and con.contype <> 'n' -- NOT NULL (PG 18) is in columns
    order by rel.relname, con.conname`.execute(db);
  const indexes = await sql<Record<string, unknown>>`
    select tablename as table_name, indexname, indexdef from pg_indexes
    where schemaname = 'public' and tablename <> all(${skip})
    order by tablename, indexname`.execute(db);
  const extensions = await sql<Record<string, unknown>>`
    select extname from pg_extension where extname <> 'plpgsql' order by extname`.execute(db);
  return {
    columns: columns.rows,
    constraints: constraints.rows,
    indexes: indexes.rows,
    extensions: extensions.rows,
  };
}
