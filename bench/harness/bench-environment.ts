import { join } from 'node:path';
import { settingDefinitions } from '../../src/domain/settings/settings.definitions.js';
import { SettingsRepository } from '../../src/domain/settings/settings.repository.js';
import { migrateUp } from '../../src/platform/db/migrator.js';
import { createTransactor } from '../../src/platform/db/transactor.js';
import { createTestDatabase, silentLogger, type TestDatabase } from '../../test/helpers/db.js';
import { type BotApiSink, startBotApiSink } from './bot-api-sink.js';
import { type NodeChild, startNode } from './child-process.js';
import { type PrivateRedis, startPrivateRedis } from './private-redis.js';
import { buildVitte } from './vitte-build.js';

export const WEBHOOK_SECRET = 'bench-webhook-secret-0123456789';
export const WEBHOOK_PATH = '/telegram/webhook';

/** Quotas never run out during a benchmark (the quota take itself still runs). */
const BENCH_PLANS = {
  free: { messages_limit: 1_000_000, images_limit: 1_000_000 },
  premium: { messages_limit: 1_000_000, images_limit: 1_000_000 },
};

export interface BenchEnvironment {
  sink: BotApiSink;
  redis: PrivateRedis;
  /** A fresh, migrated database of this run on the machine's PostgreSQL. */
  databaseUrl: string;
  /** The built app's main.js. */
  entry: string;
  close(): Promise<void>;
}

/**
 * Everything a benchmark of the bot roles stands on: the Bot API sink, a private Redis, a migrated
 * database (with quotas that do not run out) and the app built as production runs it.
 */
export async function startBenchEnvironment(label: string): Promise<BenchEnvironment> {
  const entry = buildVitte();
  const sink = await startBotApiSink();
  const redis = await startPrivateRedis();
  let testDb: TestDatabase | undefined;
  try {
    testDb = await createTestDatabase(label);
    if (!testDb.url) throw new Error('the bot benchmark needs PostgreSQL (TEST_DATABASE_URL)');
    const db = testDb.open();
    try {
      await migrateUp(db.db, silentLogger);
      await new SettingsRepository(createTransactor(db.db, silentLogger)).upsert(
        'plans',
        BENCH_PLANS,
        settingDefinitions.plans.description,
      );
    } finally {
      await db.close();
    }
  } catch (err) {
    await Promise.allSettled([sink.close(), redis.close(), testDb?.drop()]);
    throw err;
  }
  const dropDb = testDb.drop;
  return {
    sink,
    redis,
    databaseUrl: testDb.url,
    entry,
    async close() {
      await Promise.allSettled([sink.close(), redis.close(), dropDb()]);
    },
  };
}

export interface VitteRole extends NodeChild {
  /** Base URL of the role's HTTP server. */
  url: string;
}

export interface VitteRoleOptions {
  /** Where the role connects; default the environment's (a counting proxy goes here). */
  databaseUrl?: string;
  redisUrl?: string;
  /** Write a V8 CPU profile of the process into this directory when it exits. */
  cpuProfileDir?: string;
  env?: Record<string, string>;
}

/**
 * `vitte <role>` as a real process from the build, configured as in production (NODE_ENV,
 * LOG_LEVEL info, webhook mode with a secret) against the sink, the private Redis and the database.
 */
export async function startVitteRole(
  env: BenchEnvironment,
  role: 'api' | 'worker',
  opts: VitteRoleOptions = {},
): Promise<VitteRole> {
  const flags = ['--enable-source-maps'];
  if (opts.cpuProfileDir) flags.push('--cpu-prof', `--cpu-prof-dir=${opts.cpuProfileDir}`);
  const child = startNode([...flags, env.entry, role], {
    NODE_ENV: 'production',
    LOG_LEVEL: 'info',
    DATABASE_URL: opts.databaseUrl ?? env.databaseUrl,
    REDIS_URL: opts.redisUrl ?? env.redis.url,
    REDIS_PREFIX: 'vitte-bench',
    BOT_TOKEN: env.sink.token,
    TELEGRAM_API_ROOT: env.sink.apiRoot,
    BOT_MODE: 'webhook',
    WEBHOOK_SECRET,
    WEBHOOK_PATH,
    API_PORT: '0',
    // Closed-loop users send far more than a person: the limiter still runs, it just never refuses.
    BOT_RATE_LIMIT_POINTS: '100000000',
    ...opts.env,
  });
  try {
    // Both waiters first: the two lines can come in one read.
    const [line] = await Promise.all([
      child.waitForLog((l) => l.msg === 'listening'),
      role === 'worker' ? child.waitForLog((l) => l.msg === 'worker started') : undefined,
    ]);
    return Object.assign(child, { url: String(line.url) });
  } catch (err) {
    await child.stop();
    throw err;
  }
}

/** The ceiling: bench/harness/null-bot.ts as a child process (through tsx) on the same sink. */
export async function startNullBot(env: BenchEnvironment): Promise<VitteRole> {
  const child = startNode(
    ['--enable-source-maps', '--import', 'tsx', join(import.meta.dirname, 'null-bot.ts')],
    {
      NODE_ENV: 'production',
      NULL_BOT_TOKEN: env.sink.token,
      NULL_BOT_API_ROOT: env.sink.apiRoot,
      NULL_BOT_SECRET: WEBHOOK_SECRET,
    },
  );
  try {
    const line = await child.waitForLog((l) => l.msg === 'listening');
    return Object.assign(child, { url: String(line.url) });
  } catch (err) {
    await child.stop();
    throw err;
  }
}
