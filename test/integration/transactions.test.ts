import { sql } from 'kysely';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Database } from '../../src/platform/db/database.js';
import { createTransactor, type Transactor } from '../../src/platform/db/transactor.js';
import { createLogger } from '../../src/platform/logger.js';
import { createTestDatabase, type TestDatabase } from '../helpers/db.js';
import { has } from '../helpers/services.js';

for (const driver of ['pglite', 'postgres'] as const) {
  describe.skipIf(driver === 'postgres' && !has('postgres'))(`the transactor on ${driver}`, () => {
    let testDb: TestDatabase;
    let database: Database;
    let tx: Transactor;
    const logged: string[] = [];
    beforeAll(async () => {
      testDb = await createTestDatabase(`tx_${driver}`, { driver });
      database = testDb.open();
      const logger = createLogger({ level: 'error', pretty: false });
      logger.error = ((obj: unknown, msg?: string) => {
        logged.push(`${msg ?? ''} ${String((obj as { err?: Error }).err?.message ?? '')}`);
      }) as typeof logger.error;
      tx = createTransactor(database.db, logger);
      await sql`create table t (n int)`.execute(database.db);
    });
    afterAll(async () => {
      await database?.close();
      await testDb?.drop();
    });
    const count = async () =>
      (await sql<{ n: number }>`select count(*)::int as n from t`.execute(tx.db)).rows[0]!.n;
    const txid = async () =>
      (await sql<{ id: string }>`select txid_current()::text as id`.execute(tx.db)).rows[0]!.id;

    it('a nested run joins the outer transaction: one transaction, rolled back as one', async () => {
      await sql`delete from t`.execute(database.db);
      const ids: string[] = [];
      const attempt = tx.run(async () => {
        expect(tx.active).toBe(true);
        ids.push(await txid());
        await sql`insert into t values (1)`.execute(tx.db);
        await tx.run(async () => {
          ids.push(await txid());
          // The inner flow sees the outer one's uncommitted row.
          expect(await count()).toBe(1);
          await sql`insert into t values (2)`.execute(tx.db);
        });
        throw new Error('rolled back');
      });
      await expect(attempt).rejects.toThrow('rolled back');
      expect(ids[0]).toBe(ids[1]);
      expect(tx.active).toBe(false);
      expect(await count()).toBe(0);
    });

    it('after-commit actions run once the outermost transaction committed, never after a rollback', async () => {
      await sql`delete from t`.execute(database.db);
      const seen: string[] = [];
      await tx.run(async () => {
        await sql`insert into t values (1)`.execute(tx.db);
        await tx.run(async () => {
          await tx.afterCommit(async () => {
            // Runs outside the finished transaction, on the database, and sees the committed row.
            expect(tx.active).toBe(false);
            seen.push(`inner sees ${await count()}`);
          });
        });
        await tx.afterCommit(() => seen.push('outer'));
        seen.push('body done');
      });
      expect(seen).toEqual(['body done', 'inner sees 1', 'outer']);

      await expect(
        tx.run(async () => {
          await tx.afterCommit(() => seen.push('never'));
          throw new Error('rolled back');
        }),
      ).rejects.toThrow('rolled back');
      expect(seen).not.toContain('never');

      // Outside a transaction it runs at once; a failing action is logged, not thrown (the data is in).
      await tx.afterCommit(() => seen.push('at once'));
      expect(seen.at(-1)).toBe('at once');
      await expect(
        tx.afterCommit(() => {
          throw new Error('cache down');
        }),
      ).resolves.toBeUndefined();
      expect(logged.some((l) => l.includes('cache down'))).toBe(true);
    });

    it('other flows wait their turn or read the committed state; the transaction sees its own writes', async () => {
      await sql`delete from t`.execute(database.db);
      let release!: () => void;
      const gate = new Promise<void>((r) => {
        release = r;
      });
      let inserted!: () => void;
      const insertedP = new Promise<void>((r) => {
        inserted = r;
      });
      const inside = tx.run(async () => {
        await sql`insert into t values (2)`.execute(tx.db);
        inserted();
        await gate;
        return count();
      });
      await insertedP;
      // A flow of its own: not inside the transaction, so `tx.db` is the database.
      const outside = count();
      if (driver === 'postgres') {
        // Its own connection: it answers at once, without the uncommitted row.
        expect(await outside).toBe(0);
        release();
      } else {
        // One connection: it waits for the commit, then sees the row.
        let done = false;
        void outside.then(() => {
          done = true;
        });
        await new Promise((r) => setTimeout(r, 100));
        expect(done).toBe(false);
        release();
        expect(await outside).toBe(1);
      }
      expect(await inside).toBe(1);
    });

    it('work started inside a transaction that outlives it runs on the database', async () => {
      let later: Promise<number> | undefined;
      await tx.run(async () => {
        later = new Promise((r) => setTimeout(r, 20)).then(() => {
          expect(tx.active).toBe(false);
          return count();
        });
      });
      await expect(later).resolves.toBeTypeOf('number');
    });

    // PGlite runs inside the process: only PostgreSQL has a connection to kill.
    if (driver === 'postgres')
      it('a connection killed while a transaction waits between queries fails that transaction, not the process', async () => {
        let waiting!: () => void;
        const entered = new Promise<void>((r) => {
          waiting = r;
        });
        let resume!: () => void;
        const gate = new Promise<void>((r) => {
          resume = r;
        });
        const attempt = tx.run(async () => {
          const { rows } = await sql<{ pid: number }>`select pg_backend_pid() as pid`.execute(tx.db);
          waiting();
          await gate; // idle in the transaction, as when it waits on Redis or Telegram
          await sql`select 1`.execute(tx.db);
          return rows[0]!.pid;
        });
        await entered;
        // As PostgreSQL does to every connection when it shuts down or restarts.
        const admin = new pg.Client({ connectionString: testDb.url });
        await admin.connect();
        try {
          await admin.query(
            "select pg_terminate_backend(pid) from pg_stat_activity where datname = current_database() and pid <> pg_backend_pid() and state = 'idle in transaction'",
          );
        } finally {
          await admin.end();
        }
        // Give the dead socket's 'error' event time to fire while nothing is querying on it.
        await new Promise((r) => setTimeout(r, 200));
        resume();
        await expect(attempt).rejects.toThrow();
        // The pool drops the dead connection; the next transaction gets a live one.
        expect(await tx.run(() => count())).toBeTypeOf('number');
      });

    it('many concurrent transactions all commit (no flow waits for itself)', async () => {
      await sql`delete from t`.execute(database.db);
      await Promise.all(
        Array.from({ length: 20 }, (_, i) =>
          tx.run(async () => {
            await sql`insert into t values (${i})`.execute(tx.db);
            await tx.run(() => sql`insert into t values (${i})`.execute(tx.db));
          }),
        ),
      );
      expect(await count()).toBe(40);
    });
  });
}
