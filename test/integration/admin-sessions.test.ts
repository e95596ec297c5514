import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { registerAdmin } from '../../src/admin/index.js';
import { AdminRepository } from '../../src/domain/admin/admin.repository.js';
import { AuditRepository } from '../../src/domain/admin/audit.repository.js';
import { type AdminServices, createAdminServices } from '../../src/domain/admin/index.js';
import { createHttpServer } from '../../src/platform/http.js';
import { createTestApp, type TestApp } from '../helpers/app.js';
import { silentLogger } from '../helpers/db.js';

const HOUR = 3_600_000;
const DAY = 24 * HOUR;
const ACCOUNT = { username: 'sleepy', password: 'sleepy-password-1' };

/**
 * The README's promise — sessions slide 12 h from the last request and last at most 7 days — with
 * the default policy and a clock the test moves, through the panel's own HTTP stack.
 */
describe('admin session lifetime', () => {
  let t: TestApp;
  let f: FastifyInstance;
  let admin: AdminServices;
  let now = Date.UTC(2030, 0, 1, 9);

  beforeAll(async () => {
    t = await createTestApp({}, { label: 'admin_sessions' });
    admin = createAdminServices({
      tx: t.app.tx,
      repos: { admin: new AdminRepository(t.app.tx), audit: new AuditRepository(t.app.tx) },
      redis: undefined,
      redisPrefix: t.app.config.REDIS_PREFIX,
      users: t.app.users,
      subscriptions: t.app.subscriptions,
      settings: t.app.settings,
      broadcasts: t.app.broadcasts,
      payments: t.app.payments,
      logger: silentLogger,
      metrics: t.app.metrics,
      clock: () => now,
    });
    f = createHttpServer({ logger: t.app.logger, metrics: t.app.metrics, trustProxy: false });
    await registerAdmin(f, { ...t.app, admin });
    await f.ready();
    await admin.accounts.create({ ...ACCOUNT, role: 'viewer' });
  });
  afterAll(async () => {
    await f?.close();
    await t?.close();
  });

  async function signIn(): Promise<string> {
    const res = await f.inject({ method: 'POST', url: '/admin/api/login', payload: ACCOUNT });
    expect(res.statusCode, res.body).toBe(200);
    const header = res.headers['set-cookie'];
    const cookies = Array.isArray(header) ? header : [header ?? ''];
    return cookies.find((c) => c.startsWith('vitte_admin='))!.split(';')[0]!;
  }

  const me = async (cookie: string) =>
    (await f.inject({ url: '/admin/api/me', headers: { cookie } })).statusCode;

  it('slides 12 h from the last request and ends after 12 h idle', async () => {
    const cookie = await signIn();
    now += 11 * HOUR;
    expect(await me(cookie)).toBe(200);
    // 22 h after sign-in: dead without the slide, alive because the last request was 11 h ago.
    now += 11 * HOUR;
    expect(await me(cookie)).toBe(200);
    now += 12 * HOUR - 60_000;
    expect(await me(cookie)).toBe(200);
    now += 12 * HOUR;
    expect(await me(cookie)).toBe(401);
    now += 60_000;
    expect(await me(cookie)).toBe(401);
  });

  it('ends 7 days after sign-in however active it is', async () => {
    const cookie = await signIn();
    const signedInAt = now;
    while (now + 6 * HOUR < signedInAt + 7 * DAY) {
      now += 6 * HOUR;
      expect(await me(cookie), `${(now - signedInAt) / HOUR} h after sign-in`).toBe(200);
    }
    now = signedInAt + 7 * DAY - 60_000;
    expect(await me(cookie)).toBe(200);
    now = signedInAt + 7 * DAY;
    expect(await me(cookie)).toBe(401);
    expect(await me(await signIn())).toBe(200);
  });

  it('locks the account for 15 minutes from the fifth failure', async () => {
    const wrong = { ...ACCOUNT, password: 'not-the-password' };
    for (let i = 0; i < 5; i++) {
      const res = await f.inject({
        method: 'POST',
        url: '/admin/api/login',
        payload: wrong,
        remoteAddress: `10.7.0.${i}`,
      });
      expect(res.statusCode).toBe(401);
    }
    const locked = await f.inject({
      method: 'POST',
      url: '/admin/api/login',
      payload: ACCOUNT,
      remoteAddress: '10.7.1.1',
    });
    expect(locked.statusCode).toBe(429);
    const row = await t.app.db
      .selectFrom('admin_users')
      .select('locked_until')
      .where('username', '=', ACCOUNT.username)
      .executeTakeFirstOrThrow();
    expect(row.locked_until!.getTime()).toBe(now + 15 * 60_000);
  });
});
