import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { createDatabase, type Database } from '../../src/platform/db/database.js';
import { createLogger } from '../../src/platform/logger.js';
import { has, TEST_PG_URL } from './services.js';

export const silentLogger = createLogger({ level: process.env.TEST_LOG_LEVEL ?? 'silent', pretty: false });

export interface TestDatabase {
  /** Set when the database is a real Postgres database; undefined on the PGlite fallback. */
  url: string | undefined;
  /** PGlite data directory on the fallback. */
  dataDir: string;
  open(): Database;
  drop(): Promise<void>;
}

async function admin<T>(fn: (c: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: TEST_PG_URL });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

/**
 * A fresh, empty database for one test file: a new Postgres database on the test server, or a
 * PGlite directory when no Postgres is reachable.
 */
export async function createTestDatabase(
  label = 'test',
  opts: { driver?: 'postgres' | 'pglite' } = {},
): Promise<TestDatabase> {
  const dataDir = mkdtempSync(join(tmpdir(), `vitte-${label}-`));
  if (!has('postgres') || opts.driver === 'pglite') {
    return {
      url: undefined,
      dataDir,
      open: () => openDb(undefined, dataDir),
      drop: async () => rmSync(dataDir, { recursive: true, force: true }),
    };
  }
  const name = `vitte_${label.replace(/\W/g, '_')}_${randomBytes(4).toString('hex')}`;
  await admin((c) => c.query(`create database ${name}`));
  const url = new URL(TEST_PG_URL);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    dataDir,
    open: () => openDb(url.toString(), dataDir),
    drop: async () => {
      await admin((c) => c.query(`drop database if exists ${name} with (force)`));
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

function openDb(url: string | undefined, dataDir: string): Database {
  return createDatabase(
    {
      url,
      dataDir,
      poolMax: 10,
      statementTimeoutMs: 30_000,
      connectTimeoutMs: 5_000,
      applicationName: 'vitte-test',
    },
    silentLogger,
  );
}
