import { Migrator, sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Database } from '../../src/platform/db/database.js';
import { migrations } from '../../src/platform/db/migrations/index.js';
import { migrateDown, migrateUp, migrationStatus } from '../../src/platform/db/migrator.js';
import { createTestDatabase, silentLogger, type TestDatabase } from '../helpers/db.js';
import { runVitte } from '../helpers/process.js';
import { dumpSchema } from '../helpers/schema-dump.js';
import { has } from '../helpers/services.js';

const NAME_CONVENTION = /^(pk|fk|uq|ix|ck)_[a-z0-9_]+$/;

function roundTrip(label: string, make: () => Promise<TestDatabase>) {
  describe(`migrations on ${label}`, () => {
    let testDb: TestDatabase;
    let database: Database;

    beforeAll(async () => {
      testDb = await make();
      database = testDb.open();
    });
    afterAll(async () => {
      await database?.close();
      await testDb?.drop();
    });

    it('up → down to zero → up leaves an identical schema', async () => {
      const applied = await migrateUp(database.db, silentLogger);
      expect(applied).toEqual(Object.keys(migrations));
      const first = await dumpSchema(database.db);
      expect(first.columns.length).toBeGreaterThan(20);

      const reverted = await migrateDown(database.db, silentLogger, Number.POSITIVE_INFINITY);
      expect(reverted).toEqual(Object.keys(migrations).reverse());
      const empty = await dumpSchema(database.db);
      // Nothing is left but the extension 0004 creates "if not exists" (other schemas may use it).
      expect(empty).toEqual({
        columns: [],
        constraints: [],
        indexes: [],
        extensions: [{ extname: 'pg_trgm' }],
      });

      await migrateUp(database.db, silentLogger);
      expect(await dumpSchema(database.db)).toEqual(first);
    });

    it("every migration's down undoes exactly its up", async () => {
      await migrateDown(database.db, silentLogger, Number.POSITIVE_INFINITY);
      const names = Object.keys(migrations);
      const migrator = new Migrator({
        db: database.db,
        provider: { getMigrations: async () => migrations },
        migrationTableName: 'kysely_migration',
        migrationLockTableName: 'kysely_migration_lock',
      });
      const afterUp = [await dumpSchema(database.db)];
      for (const name of names) {
        expect((await migrator.migrateTo(name)).error).toBeUndefined();
        afterUp.push(await dumpSchema(database.db));
      }
      for (let k = names.length - 1; k >= 0; k--) {
        expect(await migrateDown(database.db, silentLogger, 1)).toEqual([names[k]]);
        expect(await dumpSchema(database.db), `schema after reverting ${names[k]}`).toEqual(afterUp[k]);
      }
      await migrateUp(database.db, silentLogger);
    });

    it('re-running up is a no-op and status lists every migration as applied', async () => {
      expect(await migrateUp(database.db, silentLogger)).toEqual([]);
      const status = await migrationStatus(database.db);
      expect(status.map((s) => s.name)).toEqual(Object.keys(migrations));
      expect(status.every((s) => s.executedAt instanceof Date)).toBe(true);
    });

    it('down n reverts exactly n migrations', async () => {
      const names = Object.keys(migrations);
      expect(await migrateDown(database.db, silentLogger, 1)).toEqual([names.at(-1)]);
      expect((await migrationStatus(database.db)).filter((s) => !s.executedAt).map((s) => s.name)).toEqual([
        names.at(-1),
      ]);
      await migrateUp(database.db, silentLogger);
    });

    it('names every constraint and index by the convention', async () => {
      const dump = await dumpSchema(database.db);
      const names = [
        ...dump.constraints.map((c) => (c as { conname: string }).conname),
        ...dump.indexes.map((i) => (i as { indexname: string }).indexname),
      ];
      expect(names.length).toBeGreaterThan(10);
      expect(names.filter((n) => !NAME_CONVENTION.test(n))).toEqual([]);
    });

    it('maps int8 to number', async () => {
      const row = await sql<{
        big: unknown;
        count: unknown;
      }>`select 4503599627370495::int8 as big, count(*) as count from users`.execute(database.db);
      expect(row.rows[0]).toEqual({ big: 4503599627370495, count: 0 });
    });
  });
}

roundTrip('PGlite', () => createTestDatabase('pglite', { driver: 'pglite' }));

if (has('postgres')) roundTrip('PostgreSQL', () => createTestDatabase('migrations'));

/** `vitte migrate …` run to its end, quiet but for warnings. */
const runCli = (args: string[], env: Record<string, string>) => runVitte(args, { LOG_LEVEL: 'warn', ...env });

describe.skipIf(!has('postgres'))('vitte migrate (CLI) on PostgreSQL', () => {
  let testDb: TestDatabase;
  beforeAll(async () => {
    testDb = await createTestDatabase('cli');
  });
  afterAll(async () => testDb?.drop());

  it('two concurrent "migrate up" both exit 0 and apply the schema once', async () => {
    const env = { DATABASE_URL: testDb.url! };
    const [a, b] = await Promise.all([runCli(['migrate', 'up'], env), runCli(['migrate', 'up'], env)]);
    expect([a.code, b.code]).toEqual([0, 0]);
    const database = testDb.open();
    try {
      const rows = await sql<{ name: string }>`select name from kysely_migration order by name`.execute(
        database.db,
      );
      expect(rows.rows.map((r) => r.name)).toEqual(Object.keys(migrations));
    } finally {
      await database.close();
    }
  }, 60_000);

  it('status, down all, up succeed in sequence', async () => {
    const env = { DATABASE_URL: testDb.url! };
    const status = await runCli(['migrate', 'status'], env);
    expect(status.code).toBe(0);
    expect(status.output).toMatch(/applied\s+0001-initial/);
    const down = await runCli(['migrate', 'down', 'all'], env);
    expect(down.code).toBe(0);
    expect(down.output).toContain('reverted: ');
    const again = await runCli(['migrate', 'status'], env);
    expect(again.output).toMatch(/pending\s+0001-initial/);
    const up = await runCli(['migrate', 'up'], env);
    expect(up.code).toBe(0);
    expect(up.output).toContain('applied: 0001-initial');
  }, 60_000);

  it('rejects a bad action with exit code 2', async () => {
    const res = await runCli(['migrate', 'sideways'], { DATABASE_URL: testDb.url! });
    expect(res.code).toBe(2);
    expect(res.output).toContain('unknown migrate action');
  });
});
