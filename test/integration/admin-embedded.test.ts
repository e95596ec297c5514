import type { FastifyInstance, InjectOptions } from 'fastify';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bootstrapAdmin, registerAdmin } from '../../src/admin/index.js';
import { type App, createApp } from '../../src/app.js';
import { loadConfig } from '../../src/config.js';
import { migrateUp } from '../../src/platform/db/migrator.js';
import { createHttpServer } from '../../src/platform/http.js';
import { createTestDatabase, silentLogger, type TestDatabase } from '../helpers/db.js';
import { createUser } from '../helpers/factories.js';

const OWNER = { username: 'embedded', password: 'embedded-password-1' };
const DAY = 86_400_000;

/**
 * The admin panel in embedded mode: PGlite (one connection, in-process) and no Redis, as
 * `npm start` runs it. Anything that queries outside an open transaction waits forever here.
 */
describe('admin panel on embedded PGlite', () => {
  let testDb: TestDatabase;
  let app: App;
  let f: FastifyInstance;
  let session: { cookie: string; csrf: string };

  const as = (opts: InjectOptions) => {
    const method = (opts.method ?? 'GET').toUpperCase();
    const headers: Record<string, string> = { cookie: session.cookie };
    if (method !== 'GET') headers['x-csrf-token'] = session.csrf;
    return f.inject({ ...opts, headers });
  };
  const count = async (q: ReturnType<typeof sql<{ n: number }>>) =>
    Number((await q.execute(app.db)).rows[0]!.n);

  beforeAll(async () => {
    testDb = await createTestDatabase('admin_pglite', { driver: 'pglite' });
    const config = loadConfig({
      NODE_ENV: 'test',
      LOG_LEVEL: 'silent',
      DATA_DIR: testDb.dataDir,
      ADMIN_BOOTSTRAP_USERNAME: OWNER.username,
      ADMIN_BOOTSTRAP_PASSWORD: OWNER.password,
    });
    expect(config.DATABASE_URL).toBeUndefined();
    app = createApp(config, { logger: silentLogger, role: 'test' });
    await migrateUp(app.db, silentLogger);
    await bootstrapAdmin(app);
    f = createHttpServer({ logger: app.logger, metrics: app.metrics, trustProxy: false });
    await registerAdmin(f, app);
    await f.ready();

    const now = Date.now();
    for (let i = 0; i < 12; i++) {
      await createUser(app, {
        id: 700_000 + i,
        username: i % 3 === 0 ? `pg_lite_${i}` : undefined,
        firstName: i % 2 ? 'Wasm' : 'Embedded',
        createdAt: new Date(now - i * 3 * DAY),
        lastActiveAt: new Date(now - i * DAY),
      });
    }
  }, 120_000);

  afterAll(async () => {
    await f?.close();
    await app?.close();
    await testDb?.drop();
  });

  it('signs in the bootstrap owner', async () => {
    const res = await f.inject({ method: 'POST', url: '/admin/api/login', payload: OWNER });
    expect(res.statusCode, res.body).toBe(200);
    const header = res.headers['set-cookie'];
    const cookies = Array.isArray(header) ? header : [header ?? ''];
    session = {
      cookie: cookies.find((c) => c.startsWith('vitte_admin='))!.split(';')[0]!,
      csrf: res.json().csrfToken,
    };
    expect((await as({ url: '/admin/api/me' })).json().admin.role).toBe('owner');
  });

  it('dashboard numbers equal what the database holds', async () => {
    const s = (await as({ url: '/admin/api/stats?fresh=1' })).json();
    expect(s.users.total).toBe(12);
    expect(s.users.new7d).toBe(
      await count(sql`select count(*) as n from users where created_at >= now() - interval '7 days'`),
    );
    expect(s.active.wau).toBe(
      await count(sql`select count(*) as n from users where last_active_at >= now() - interval '7 days'`),
    );
    expect(s.plans).toEqual([{ plan: 'free', count: 12 }]);
    expect(s.health.db.status).toBe('ok');
    expect(s.health.queue.kind).toBe('inline');
  });

  it('searches users by name and @username', async () => {
    const byName = (await as({ url: '/admin/api/users?q=wasm&limit=50' })).json();
    expect(byName.items).toHaveLength(6);
    const byUsername = (await as({ url: `/admin/api/users?q=${encodeURIComponent('@pg_lite_9')}` })).json();
    expect(byUsername.items.map((u: { id: number }) => u.id)).toEqual([700_009]);
  });

  it('bans a user, with its audit row', async () => {
    const res = await as({ method: 'POST', url: '/admin/api/users/700001/ban', payload: { reason: 'test' } });
    expect(res.statusCode, res.body).toBe(200);
    expect((await app.users.findCached(700_001))!.banned_at).toBeInstanceOf(Date);
    expect(await count(sql`select count(*) as n from admin_audit_log where action = 'user.ban'`)).toBe(1);
  });

  it('grants a plan and changes a setting while the settings cache is cold', async () => {
    // Nothing cached: the plan limits are read while the grant's transaction holds the only connection.
    await app.bus.publish('settings', '*');
    const granted = await as({
      method: 'POST',
      url: '/admin/api/users/700002/plan',
      payload: { plan: 'premium', until: new Date(Date.now() + 5 * DAY).toISOString().slice(0, 10) },
    });
    expect(granted.statusCode, granted.body).toBe(200);
    expect(granted.json().subscription).toMatchObject({ plan: 'premium', messages_limit: 1000 });

    await app.bus.publish('settings', '*');
    const reset = await as({ method: 'POST', url: '/admin/api/users/700002/reset-quota' });
    expect(reset.statusCode, reset.body).toBe(200);

    const saved = await as({
      method: 'PUT',
      url: '/admin/api/settings/quota.period_hours',
      payload: { value: 6 },
    });
    expect(saved.statusCode, saved.body).toBe(200);
    expect(await app.settings.get('quota.period_hours')).toBe(6);
    const audit = await app.db
      .selectFrom('admin_audit_log')
      .select(['action', 'before', 'after'])
      .where('target_type', 'in', ['user', 'setting'])
      .where('action', '<>', 'user.ban')
      .orderBy('id')
      .execute();
    expect(audit.map((a) => a.action)).toEqual(['user.grant_plan', 'user.reset_quota', 'setting.update']);
    expect(audit[2]).toMatchObject({ before: 24, after: 6 });
  });
});
