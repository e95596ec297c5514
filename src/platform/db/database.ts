import { mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { PGlite } from '@electric-sql/pglite';
import { pg_trgm } from '@electric-sql/pglite/contrib/pg_trgm';
import { Kysely, PostgresDialect, sql } from 'kysely';
import pg from 'pg';
import type { Logger } from '../logger.js';
import { PGliteDialect } from './pglite-dialect.js';
import type { DB } from './schema.js';

export type Db = Kysely<DB>;

export interface Database {
  readonly db: Db;
  readonly kind: 'postgres' | 'pglite';
  /** Resolves when the database answers `select 1`; rejects with the driver's reason. */
  ping(timeoutMs?: number): Promise<void>;
  close(): Promise<void>;
}

export interface DatabaseOptions {
  url?: string | undefined;
  dataDir: string;
  poolMax: number;
  statementTimeoutMs: number;
  connectTimeoutMs: number;
  applicationName?: string;
}

const INT8_OID = 20;
const toNumber = (v: string): number => Number(v);

/** Postgres over a `pg` pool when a URL is given, otherwise PGlite persisted under `dataDir`. */
export function createDatabase(opts: DatabaseOptions, logger: Logger): Database {
  return opts.url ? createPostgres(opts, opts.url, logger) : createPGlite(opts, logger);
}

function createPostgres(opts: DatabaseOptions, url: string, logger: Logger): Database {
  const pool = new pg.Pool({
    connectionString: url,
    max: opts.poolMax,
    connectionTimeoutMillis: opts.connectTimeoutMs,
    statement_timeout: opts.statementTimeoutMs || undefined,
    application_name: opts.applicationName ?? 'vitte',
    // int8 as number, the same as on PGlite (Telegram ids fit in 52 bits).
    types: {
      getTypeParser: ((oid: number, format?: 'text' | 'binary') =>
        oid === INT8_OID ? toNumber : pg.types.getTypeParser(oid, format)) as typeof pg.types.getTypeParser,
    },
  });
  pool.on('error', (err) =>
    logger.error({ component: 'db', err: err.message }, 'idle postgres client failed'),
  );
  // The pool listens for errors of idle clients only. A connection that dies while checked out but
  // between queries (a transaction waiting on something else when PostgreSQL restarts) emits an
  // 'error' nobody hears, and an unheard 'error' ends the process. Its next query fails instead.
  pool.on('connect', (client) => {
    client.on('error', (err) =>
      logger.warn({ component: 'db', err: err.message }, 'postgres connection lost while in use'),
    );
  });
  const db = new Kysely<DB>({ dialect: new PostgresDialect({ pool }) });
  return {
    db,
    kind: 'postgres',
    ping: (timeoutMs = 2_000) => pingWithTimeout(db, timeoutMs),
    close: () => db.destroy(),
  };
}

function createPGlite(opts: DatabaseOptions, logger: Logger): Database {
  const dir = resolve(opts.dataDir, 'pglite');
  mkdirSync(dir, { recursive: true });
  logger.info({ component: 'db', dataDir: dir }, 'using embedded PGlite');
  const pglite = new PGlite(join(dir), {
    parsers: { [INT8_OID]: toNumber },
    extensions: { pg_trgm },
  });
  const db = new Kysely<DB>({ dialect: new PGliteDialect(pglite) });
  return {
    db,
    kind: 'pglite',
    ping: (timeoutMs = 2_000) => pingWithTimeout(db, timeoutMs),
    close: () => db.destroy(),
  };
}

async function pingWithTimeout(db: Db, timeoutMs: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([
      sql`select 1`.execute(db),
      new Promise((_, reject) => {
        timer = setTimeout(() => reject(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}
