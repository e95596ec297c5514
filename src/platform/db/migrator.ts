import { type MigrationResult, Migrator, NO_MIGRATIONS } from 'kysely';
import type { Logger } from '../logger.js';
import type { Db } from './database.js';
import { migrations } from './migrations/index.js';

export interface MigrationStatus {
  name: string;
  executedAt: Date | null;
}

export class MigrationError extends Error {
  override name = 'MigrationError';
}

function createMigrator(db: Db): Migrator {
  return new Migrator({
    db,
    provider: { getMigrations: async () => migrations },
    // Kysely's own bookkeeping tables, named explicitly so they are easy to find.
    migrationTableName: 'kysely_migration',
    migrationLockTableName: 'kysely_migration_lock',
  });
}

function check(results: MigrationResult[] | undefined, error: unknown, logger: Logger): string[] {
  for (const r of results ?? []) {
    const log = { migration: r.migrationName, direction: r.direction };
    if (r.status === 'Success') logger.info(log, 'migration applied');
    else if (r.status === 'Error') logger.error(log, 'migration failed');
  }
  if (error) throw new MigrationError(`migration failed: ${String(error)}`, { cause: error });
  return (results ?? []).filter((r) => r.status === 'Success').map((r) => r.migrationName);
}

/** Apply every pending migration; a no-op when there are none. Safe to run from several processes at once. */
export async function migrateUp(db: Db, logger: Logger): Promise<string[]> {
  const { results, error } = await createMigrator(db).migrateToLatest();
  return check(results, error, logger);
}

/** Revert the last `steps` applied migrations (all of them with `Infinity`). */
export async function migrateDown(db: Db, logger: Logger, steps = 1): Promise<string[]> {
  const migrator = createMigrator(db);
  const applied = (await migrator.getMigrations()).filter((m) => m.executedAt);
  if (applied.length === 0 || steps <= 0) return [];
  const keep = applied.length - Math.min(steps, applied.length);
  const target = keep === 0 ? NO_MIGRATIONS : applied[keep - 1]!.name;
  const { results, error } = await migrator.migrateTo(target);
  return check(results, error, logger);
}

export async function migrationStatus(db: Db): Promise<MigrationStatus[]> {
  const all = await createMigrator(db).getMigrations();
  return all.map((m) => ({ name: m.name, executedAt: m.executedAt ?? null }));
}

export async function pendingMigrations(db: Db): Promise<string[]> {
  return (await migrationStatus(db)).filter((m) => !m.executedAt).map((m) => m.name);
}
