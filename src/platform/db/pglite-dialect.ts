import { AsyncLocalStorage } from 'node:async_hooks';
import type { PGlite } from '@electric-sql/pglite';
import {
  type CompiledQuery,
  type DatabaseConnection,
  type DatabaseIntrospector,
  type Dialect,
  type DialectAdapter,
  type Driver,
  type Kysely,
  PostgresAdapter,
  PostgresIntrospector,
  PostgresQueryCompiler,
  type QueryCompiler,
  type QueryResult,
  type TransactionBuilder,
  type TransactionSettings,
} from 'kysely';

/** Marks the async flow running a transaction's callback, while the transaction is open. */
const openTransaction = new AsyncLocalStorage<{ open: boolean }>();

/**
 * A query on the database (not on the transaction) from inside a transaction's callback. On
 * PGlite's single connection it would wait for the transaction, which waits for it: forever.
 */
export class QueryOutsideTransactionError extends Error {
  override name = 'QueryOutsideTransactionError';
  constructor() {
    super(
      'a query ran on the database while this flow holds an open transaction: run it on the transaction (trx), or before it',
    );
  }
}

/** The transaction builder, with the callback run inside a marked async context. */
function markTransactions<DB>(builder: TransactionBuilder<DB>): TransactionBuilder<DB> {
  return new Proxy(builder, {
    get(target, prop) {
      if (prop === 'execute') {
        return <T>(callback: Parameters<TransactionBuilder<DB>['execute']>[0]) =>
          target.execute((trx) => {
            const mark = { open: true };
            return openTransaction.run(mark, async () => {
              try {
                return (await callback(trx)) as T;
              } finally {
                mark.open = false;
              }
            });
          });
      }
      if (prop === 'setIsolationLevel' || prop === 'setAccessMode') {
        return (arg: never) => markTransactions(target[prop](arg));
      }
      const value = Reflect.get(target, prop, target);
      return typeof value === 'function' ? value.bind(target) : value;
    },
  });
}

/**
 * Wraps a Kysely instance so its driver can tell a query that would deadlock (issued on `db` from
 * inside a transaction's callback) from one that merely waits its turn.
 */
export function guardTransactions<DB>(db: Kysely<DB>): Kysely<DB> {
  return new Proxy(db, {
    get(target, prop) {
      if (prop === 'transaction') return () => markTransactions(target.transaction());
      const value = Reflect.get(target, prop, target);
      return typeof value === 'function' ? value.bind(target) : value;
    },
  });
}

/** True inside the callback of an open transaction (see guardTransactions). */
export function inOpenTransaction(): boolean {
  return openTransaction.getStore()?.open === true;
}

/**
 * Kysely dialect for PGlite (Postgres compiled to WASM, one connection, in-process).
 * PGlite has a single session, so connections are handed out one at a time: a transaction
 * holds the session until it commits and other queries wait in line — except a query from the
 * transaction's own flow (with guardTransactions), which fails at once instead of waiting forever.
 */
export class PGliteDialect implements Dialect {
  constructor(private readonly pglite: PGlite) {}
  createAdapter(): DialectAdapter {
    return new PostgresAdapter();
  }
  createDriver(): Driver {
    return new PGliteDriver(this.pglite);
  }
  createIntrospector(db: Kysely<unknown>): DatabaseIntrospector {
    return new PostgresIntrospector(db);
  }
  createQueryCompiler(): QueryCompiler {
    return new PostgresQueryCompiler();
  }
}

class PGliteConnection implements DatabaseConnection {
  constructor(private readonly pglite: PGlite) {}

  async executeQuery<R>(query: CompiledQuery): Promise<QueryResult<R>> {
    const res = await this.pglite.query<R>(query.sql, query.parameters as unknown[]);
    const kind = query.query.kind;
    const affected =
      kind === 'InsertQueryNode' ||
      kind === 'UpdateQueryNode' ||
      kind === 'DeleteQueryNode' ||
      kind === 'MergeQueryNode'
        ? BigInt(res.affectedRows ?? 0)
        : undefined;
    return { rows: res.rows, ...(affected !== undefined ? { numAffectedRows: affected } : {}) };
  }

  // biome-ignore lint/correctness/useYield: streaming is not supported by PGlite; the generator only throws.
  async *streamQuery<R>(): AsyncIterableIterator<QueryResult<R>> {
    throw new Error('PGlite dialect does not support streaming queries');
  }
}

class PGliteDriver implements Driver {
  private readonly connection: PGliteConnection;
  private queue: Promise<void> = Promise.resolve();
  private release: (() => void) | undefined;

  constructor(private readonly pglite: PGlite) {
    this.connection = new PGliteConnection(pglite);
  }

  async init(): Promise<void> {
    await this.pglite.waitReady;
  }

  async acquireConnection(): Promise<DatabaseConnection> {
    if (inOpenTransaction()) throw new QueryOutsideTransactionError();
    const previous = this.queue;
    let release!: () => void;
    this.queue = new Promise<void>((resolve) => {
      release = resolve;
    });
    await previous;
    this.release = release;
    return this.connection;
  }

  async beginTransaction(_conn: DatabaseConnection, settings: TransactionSettings): Promise<void> {
    const mode = [
      settings.isolationLevel ? `ISOLATION LEVEL ${settings.isolationLevel.toUpperCase()}` : '',
      settings.accessMode ? settings.accessMode.toUpperCase() : '',
    ]
      .filter(Boolean)
      .join(' ');
    await this.pglite.exec(`BEGIN ${mode}`);
  }
  async commitTransaction(): Promise<void> {
    await this.pglite.exec('COMMIT');
  }
  async rollbackTransaction(): Promise<void> {
    await this.pglite.exec('ROLLBACK');
  }

  async releaseConnection(): Promise<void> {
    const release = this.release;
    this.release = undefined;
    release?.();
  }

  async destroy(): Promise<void> {
    await this.queue;
    if (!this.pglite.closed) await this.pglite.close();
  }
}
