/**
 * Admin panel at scale: 1,000,000 users (BENCH_ADMIN_USERS overrides) with subscriptions, dialogs
 * and 30 days of messages, seeded with INSERT … SELECT generate_series into a fresh Postgres
 * database. Reports dashboard latency (computed without cache, and as served from the cache) and
 * user search latency through the admin JSON API (session check included), p50/p99 each, and
 * prints the plan of every search query (EXPLAIN ANALYZE) to stderr.
 */
import type { FastifyInstance } from 'fastify';
import { Kysely, PostgresDialect, sql } from 'kysely';
import pg from 'pg';
import { registerAdmin } from '../src/admin/index.js';
import { type App, createApp } from '../src/app.js';
import { loadConfig } from '../src/config.js';
import { type UserSearch, UsersRepository } from '../src/domain/users/users.repository.js';
import { migrateUp } from '../src/platform/db/migrator.js';
import type { DB } from '../src/platform/db/schema.js';
import { createTransactor } from '../src/platform/db/transactor.js';
import { createHttpServer } from '../src/platform/http.js';
import { createTestDatabase, silentLogger } from '../test/helpers/db.js';
import { probeServices } from '../test/helpers/services.js';
import type { Report } from './run.js';
import { percentile } from './stats.js';

const USERS = Number(process.env.BENCH_ADMIN_USERS ?? 1_000_000);
const MESSAGES = Number(process.env.BENCH_ADMIN_MESSAGES ?? USERS);
const FIRST_ID = 1_000_000_000;
const NAMES = [
  'Ivan',
  'Maria',
  'Alexei',
  'Olga',
  'Dmitri',
  'Anna',
  'Sergei',
  'Elena',
  'Pavel',
  'Irina',
  'John',
  'Emma',
  'Liam',
  'Sofia',
  'Noah',
  'Mia',
  'Артём',
  'Дарья',
  'Михаил',
  'Полина',
];

function log(line: string): void {
  process.stderr.write(`  ${line}\n`);
}

async function timed<T>(label: string, fn: () => Promise<T>): Promise<T> {
  const started = performance.now();
  const result = await fn();
  log(`${label}: ${((performance.now() - started) / 1000).toFixed(1)} s`);
  return result;
}

/** Users, subscriptions, dialogs and messages at scale (exported for tuning queries by hand). */
export async function seed(app: App): Promise<void> {
  const db = app.db;
  // A trigram GIN index is far cheaper to build once than to maintain row by row; rebuilt below
  // from its own definition, so the bench measures exactly the migration's index.
  const index = await sql<{
    indexdef: string;
  }>`select indexdef from pg_indexes where indexname = 'ix_users_search'`.execute(db);
  const definition = index.rows[0]!.indexdef;
  await sql`drop index ix_users_search`.execute(db);

  await timed(`${USERS.toLocaleString('en-US')} users`, () =>
    sql`
      insert into users (id, username, first_name, last_name, language_code, created_at, last_active_at, banned_at, bot_blocked_at)
      select ${FIRST_ID}::bigint + g,
             case when g % 3 = 0 then null else 'user_' || g end,
             (${sql.val(NAMES)}::text[])[1 + g % ${NAMES.length}],
             case when g % 4 = 0 then 'Surname' || (g % 1000) end,
             case when g % 2 = 0 then 'ru' else 'en' end,
             now() - make_interval(secs => (g * 7919) % (730 * 86400)),
             now() - make_interval(secs => (g * 104729) % (60 * 86400)),
             case when g % 997 = 0 then now() end,
             case when g % 53 = 0 then now() end
      from generate_series(1::bigint, ${USERS}) g`.execute(db),
  );
  await sql`update users set last_active_at = greatest(last_active_at, created_at)`.execute(db);
  await timed('subscriptions', () =>
    sql`
      insert into subscriptions (user_id, plan, messages_limit, images_limit, messages_used)
      select id, case when id % 19 = 0 then 'premium' else 'free' end,
             case when id % 19 = 0 then 1000 else 30 end, 3, (id % 30)::int
      from users`.execute(db),
  );
  const dialogs = Math.max(1, Math.floor(USERS / 10));
  await timed(
    `${dialogs.toLocaleString('en-US')} dialogs, ${MESSAGES.toLocaleString('en-US')} messages over 30 days`,
    async () => {
      await sql`
      insert into dialogs (user_id, chat_id, title, is_active)
      select ${FIRST_ID}::bigint + g * 10, ${FIRST_ID}::bigint + g * 10, 'Dialog', true from generate_series(1, ${dialogs} - 1) g`.execute(
        db,
      );
      await sql`
      with d as (select id, row_number() over (order by id) - 1 as rn from dialogs)
      insert into messages (dialog_id, role, content, created_at)
      select d.id, case when g % 2 = 0 then 'user' else 'assistant' end, 'message ' || g,
             now() - make_interval(secs => (g * 7919) % (30 * 86400))
      from generate_series(1::bigint, ${MESSAGES}) g
      join d on d.rn = g % (${dialogs} - 1)`.execute(db);
    },
  );
  await timed('trigram index', () =>
    // One connection, so the memory setting applies to the build.
    db.connection().execute(async (c) => {
      await sql`set maintenance_work_mem = '256MB'`.execute(c);
      await sql.raw(definition).execute(c);
    }),
  );
  await timed('vacuum analyze', () => sql`vacuum analyze`.execute(db));
}

/** EXPLAIN ANALYZE of the exact SQL UsersRepository.search sends (captured through Kysely's query log). */
async function explainSearches(url: string): Promise<void> {
  const pool = new pg.Pool({ connectionString: url, max: 2 });
  let last: { sql: string; parameters: readonly unknown[] } | undefined;
  const db = new Kysely<DB>({
    dialect: new PostgresDialect({ pool }),
    log: (event) => {
      // The search itself, not the statement_timeout setting or the transaction around it.
      if (event.level === 'query' && event.query.sql.includes('from "users" as "u"')) last = event.query;
    },
  });
  const repo = new UsersRepository(createTransactor(db, silentLogger), async () => {});
  const mid = FIRST_ID + Math.floor(USERS / 2);
  const cases: [string, UserSearch][] = [
    ['id', { query: String(mid), limit: 51 }],
    ['username', { query: `user_${mid - FIRST_ID}`, limit: 51 }],
    ['name_common', { query: 'ivan', limit: 51 }],
    ['name_rare', { query: 'surname123', limit: 51 }],
    ['list_deep_page', { beforeId: mid, limit: 51 }],
    ['plan_premium', { plan: 'premium', beforeId: mid, limit: 51 }],
    ['status_banned', { status: 'banned', limit: 51 }],
    ['status_blocked', { status: 'blocked', beforeId: mid, limit: 51 }],
  ];
  try {
    for (const [label, filter] of cases) {
      await repo.search(filter);
      const q = last!;
      const res = await pool.query(`explain (analyze, buffers, costs off) ${q.sql}`, [...q.parameters]);
      log(`EXPLAIN search ${label}:`);
      for (const row of res.rows as Record<string, string>[]) log(`    ${Object.values(row)[0]}`);
    }
  } finally {
    await db.destroy();
  }
}

export default async function adminBench(report: Report): Promise<void> {
  const found = await probeServices();
  if (!found.postgres) {
    process.stderr.write('admin bench skipped: it needs Postgres\n');
    return;
  }
  process.env.VITTE_TEST_HAS_POSTGRES = '1';
  const testDb = await createTestDatabase('bench_admin');
  const app = createApp(
    loadConfig({
      NODE_ENV: 'production',
      LOG_LEVEL: 'warn',
      DATABASE_URL: testDb.url!,
      DATA_DIR: testDb.dataDir,
      DB_STATEMENT_TIMEOUT_MS: '0',
    }),
    { logger: silentLogger, role: 'bench' },
  );
  let f: FastifyInstance | undefined;
  try {
    await migrateUp(app.db, silentLogger);
    await seed(app);

    f = createHttpServer({ logger: silentLogger, metrics: app.metrics, trustProxy: false });
    await registerAdmin(f, app);
    await f.ready();
    await app.admin.accounts.create({ username: 'bench', password: 'bench-password-1', role: 'owner' });
    const login = await f.inject({
      method: 'POST',
      url: '/admin/api/login',
      payload: { username: 'bench', password: 'bench-password-1' },
    });
    const cookie = String(login.headers['set-cookie']).split(';')[0]!;
    const server = f;
    const get = async (url: string) => {
      const started = performance.now();
      const res = await server.inject({ url, headers: { cookie } });
      const ms = performance.now() - started;
      if (res.statusCode !== 200) throw new Error(`${url}: ${res.statusCode} ${res.body.slice(0, 300)}`);
      return { ms, body: res.json() as Record<string, unknown> };
    };
    const note = `${USERS.toLocaleString('en-US')} users, ${MESSAGES.toLocaleString('en-US')} messages, Postgres`;

    // Dashboard as the first visitor after the 30 s cache sees it (past days of the message chart
    // stay cached for 15 min, as in production)…
    const uncached: number[] = [];
    for (let i = 0; i < 15; i++) {
      await app.cache.delete('admin:stats:dashboard');
      uncached.push((await get('/admin/api/stats')).ms);
    }
    const stats = (await get('/admin/api/stats')).body as { users: { total: number } };
    if (stats.users.total !== USERS)
      throw new Error(`dashboard counted ${stats.users.total} users, expected ${USERS}`);
    report('dashboard_uncached_p50', percentile(uncached, 50), 'ms', note);
    report('dashboard_uncached_p99', percentile(uncached, 99), 'ms', note);
    // …every number recomputed including 30 days of messages ("Recompute now")…
    const full: number[] = [];
    for (let i = 0; i < 8; i++) full.push((await get('/admin/api/stats?fresh=1')).ms);
    report('dashboard_full_recompute_p50', percentile(full, 50), 'ms', note);
    report('dashboard_full_recompute_p99', percentile(full, 99), 'ms', note);
    // …and as everyone else gets it within the 30 s.
    const cached: number[] = [];
    for (let i = 0; i < 200; i++) cached.push((await get('/admin/api/stats')).ms);
    report('dashboard_cached_p50', percentile(cached, 50), 'ms', note);
    report('dashboard_cached_p99', percentile(cached, 99), 'ms', note);

    const pick = (i: number) => FIRST_ID + 1 + ((i * 7_919_993) % USERS);
    const cases: { name: string; url: (i: number) => string }[] = [
      { name: 'id', url: (i) => `/admin/api/users?q=${pick(i)}` },
      { name: 'username', url: (i) => `/admin/api/users?q=user_${pick(i) - FIRST_ID}` },
      {
        name: 'name_common',
        url: (i) => `/admin/api/users?q=${encodeURIComponent(NAMES[i % NAMES.length]!.toLowerCase())}`,
      },
      { name: 'name_rare', url: (i) => `/admin/api/users?q=surname${(i * 37) % 1000}` },
      { name: 'list_first_page', url: () => '/admin/api/users' },
      { name: 'list_deep_page', url: (i) => `/admin/api/users?before=${pick(i)}` },
      { name: 'plan_premium', url: (i) => `/admin/api/users?plan=premium&before=${pick(i)}` },
      { name: 'status_banned', url: () => '/admin/api/users?status=banned' },
      { name: 'status_blocked', url: (i) => `/admin/api/users?status=blocked&before=${pick(i)}` },
      {
        name: 'name_and_plan',
        url: (i) => `/admin/api/users?q=${encodeURIComponent(NAMES[i % NAMES.length]!)}&plan=premium`,
      },
    ];
    for (const c of cases) {
      const samples: number[] = [];
      for (let i = 0; i < 60; i++) samples.push((await get(c.url(i))).ms);
      const warm = samples.slice(10);
      report(`search_${c.name}_p50`, percentile(warm, 50), 'ms', note);
      report(`search_${c.name}_p99`, percentile(warm, 99), 'ms', note);
    }

    await explainSearches(testDb.url!);
  } finally {
    await f?.close();
    await app.close();
    await testDb.drop();
  }
}
