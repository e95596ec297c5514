import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Database } from '../../src/platform/db/database.js';
import { QueryOutsideTransactionError } from '../../src/platform/db/pglite-dialect.js';
import { createTestDatabase, type TestDatabase } from '../helpers/db.js';
import { has } from '../helpers/services.js';

for (const driver of ['pglite', 'postgres'] as const) {
  describe.skipIf(driver === 'postgres' && !has('postgres'))(`transactions on ${driver}`, () => {
    let testDb: TestDatabase;
    let database: Database;
    beforeAll(async () => {
      testDb = await createTestDatabase(`tx_${driver}`, { driver });
      database = testDb.open();
      await sql`create table t (n int)`.execute(database.db);
    });
    afterAll(async () => {
      await database?.close();
      await testDb?.drop();
    });

    it("a query on the database from inside a transaction's callback fails at once (it would deadlock on PGlite)", async () => {
      const db = database.db;
      const attempt = db.transaction().execute(async (trx) => {
        await sql`insert into t values (1)`.execute(trx);
        await sql`select count(*) from t`.execute(db);
      });
      await expect(attempt).rejects.toBeInstanceOf(QueryOutsideTransactionError);
      // Rolled back, and the database serves the next query.
      const { rows } = await sql<{ n: number }>`select count(*)::int as n from t`.execute(db);
      expect(rows[0]!.n).toBe(0);
      // The same holds with transaction settings.
      await expect(
        db
          .transaction()
          .setIsolationLevel('serializable')
          .execute(async () => {
            await sql`select 1`.execute(db);
          }),
      ).rejects.toBeInstanceOf(QueryOutsideTransactionError);
    });

    it('other flows wait their turn while a transaction is open, and the transaction sees its own writes', async () => {
      const db = database.db;
      let release!: () => void;
      const gate = new Promise<void>((r) => {
        release = r;
      });
      let inserted!: () => void;
      const insertedP = new Promise<void>((r) => {
        inserted = r;
      });
      const tx = db.transaction().execute(async (trx) => {
        await sql`delete from t`.execute(trx);
        await sql`insert into t values (2)`.execute(trx);
        inserted();
        await gate;
        const { rows } = await sql<{ n: number }>`select count(*)::int as n from t`.execute(trx);
        return rows[0]!.n;
      });
      await insertedP;
      const outside = sql<{ n: number }>`select count(*)::int as n from t`.execute(db);
      if (driver === 'postgres') {
        // Its own connection: it answers at once, without the uncommitted row.
        expect((await outside).rows[0]!.n).toBe(0);
        release();
      } else {
        // One connection: it waits for the commit, then sees the row (and is not refused).
        let done = false;
        void outside.then(() => {
          done = true;
        });
        await new Promise((r) => setTimeout(r, 100));
        expect(done).toBe(false);
        release();
        expect((await outside).rows[0]!.n).toBe(1);
      }
      expect(await tx).toBe(1);
      // Work started inside a transaction that outlives it is not mistaken for a nested query.
      let later: Promise<unknown> | undefined;
      await db.transaction().execute(async () => {
        later = new Promise((r) => setTimeout(r, 20)).then(() => sql`select 1`.execute(db));
      });
      await expect(later).resolves.toBeDefined();
    });
  });
}
