import { AsyncLocalStorage } from 'node:async_hooks';
import type { Logger } from '../logger.js';
import type { Db } from './database.js';

/** The transaction a flow is running in, while it is open. */
interface Scope {
  trx: Db;
  open: boolean;
  afterCommit: (() => unknown)[];
}

/**
 * The one way to run a transaction. Repositories read `tx.db`: inside `run` it is the ambient
 * transaction of the calling flow, elsewhere the database. So a service composes any repositories
 * and other services into one atomic unit just by calling them inside `run`, and a nested `run`
 * joins the outer transaction instead of opening a second one (which on PGlite's single connection
 * would wait for the first forever).
 */
export interface Transactor {
  /** The ambient transaction, or the database outside one. Read it per query, never keep it. */
  readonly db: Db;
  /** True inside an open transaction. */
  readonly active: boolean;
  /** Run `fn` in a transaction: a new one, or the caller's when one is open. Rolls back on throw. */
  run<T>(fn: () => Promise<T>): Promise<T>;
  /**
   * Run `fn` once the outermost transaction has committed (never when it rolls back): cache
   * invalidations, bus messages, enqueued jobs — whatever must not be seen before the data is.
   * Outside a transaction it runs at once. Its errors are logged, not thrown: the data is committed.
   */
  afterCommit(fn: () => unknown): Promise<void>;
}

export function createTransactor(root: Db, logger: Logger): Transactor {
  const storage = new AsyncLocalStorage<Scope>();
  // Work started inside a transaction that outlives it (a timer, a detached promise) inherits the
  // async context; once the transaction ended, that work runs on the database as any other would.
  const current = (): Scope | undefined => {
    const scope = storage.getStore();
    return scope?.open ? scope : undefined;
  };
  const runHook = async (fn: () => unknown): Promise<void> => {
    try {
      await fn();
    } catch (err) {
      logger.error({ err }, 'an after-commit action failed');
    }
  };
  return {
    get db() {
      return current()?.trx ?? root;
    },
    get active() {
      return current() !== undefined;
    },
    async run(fn) {
      if (current()) return fn();
      const hooks: (() => unknown)[] = [];
      const result = await root.transaction().execute((trx) => {
        const scope: Scope = { trx, open: true, afterCommit: hooks };
        return storage.run(scope, async () => {
          try {
            return await fn();
          } finally {
            scope.open = false;
          }
        });
      });
      // Outside the finished scope, so hooks that write run on the database, not the old transaction.
      for (const hook of hooks) await runHook(hook);
      return result;
    },
    async afterCommit(fn) {
      const scope = current();
      if (scope) scope.afterCommit.push(fn);
      else await runHook(fn);
    },
  };
}

/** What every repository is: queries on the calling flow's transaction, or on the database outside one. */
export abstract class Repository {
  constructor(private readonly transactor: Transactor) {}

  /** Read per query, never kept: inside `tx.run` it is that flow's transaction. */
  protected get db(): Db {
    return this.transactor.db;
  }

  /** Run `fn` atomically, joining the caller's transaction when there is one. */
  protected atomically<T>(fn: () => Promise<T>): Promise<T> {
    return this.transactor.run(fn);
  }

  /** True inside an open transaction. */
  protected get inTransaction(): boolean {
    return this.transactor.active;
  }

  /** Run `fn` once the caller's transaction has committed (at once outside one). */
  protected afterCommit(fn: () => unknown): Promise<void> {
    return this.transactor.afterCommit(fn);
  }
}

/** Told whose cached rows a committed write changed (the caches drop them, in every process). */
export type RowsChanged = (userIds: readonly number[]) => Promise<void>;

/**
 * A repository of rows that processes cache by user id. Every statement that writes them runs
 * through `write`: once it is committed (at once outside a transaction), `changed` hears whose rows
 * it touched, so no cached row outlives a change, whoever writes (quota, plans, payments, jobs,
 * admins). A write that went around it would leave a stale row in every process's cache until the
 * cache entry expires.
 */
export abstract class CachedRowsRepository extends Repository {
  constructor(
    tx: Transactor,
    private readonly changed: RowsChanged,
  ) {
    super(tx);
  }

  protected async write<T>(users: (result: T) => readonly number[], statement: () => Promise<T>): Promise<T> {
    const result = await statement();
    const keys = users(result);
    if (keys.length) await this.afterCommit(() => this.changed(keys));
    return result;
  }
}
