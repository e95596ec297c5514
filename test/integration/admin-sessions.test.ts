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
      dialogs: t.app.dialogs,
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

  const attempt = async (password: string, ip: string, username = ACCOUNT.username) => {
    const res = await f.inject({
      method: 'POST',
      url: '/admin/api/login',
      payload: { username, password },
      remoteAddress: ip,
    });
    return { status: res.statusCode, retryAfter: Number(res.headers['retry-after'] ?? 0) };
  };
  const WRONG = 'not-the-password';

  it('never locks the account: after 5 failures from one address the right password from another signs in at once', async () => {
    for (let i = 0; i < 5; i++) expect((await attempt(WRONG, '10.7.0.1')).status).toBe(401);
    expect((await attempt(ACCOUNT.password, '10.7.1.1')).status).toBe(200);
  });

  it('makes a failing address wait longer and longer, and forgets it after 15 quiet minutes', async () => {
    const ip = '10.8.0.1';
    // Five tries of one name from one address cost nothing; each failure after that doubles the wait.
    for (let i = 0; i < 5; i++) expect((await attempt(WRONG, ip)).status).toBe(401);
    const waits: number[] = [];
    for (let i = 0; i < 4; i++) {
      const refused = await attempt(WRONG, ip);
      expect(refused.status).toBe(429);
      waits.push(refused.retryAfter);
      now += refused.retryAfter * 1000;
      expect((await attempt(WRONG, ip)).status).toBe(401);
    }
    expect(waits).toEqual([1, 2, 4, 8]);
    // Even the right password waits its turn from this address…
    expect((await attempt(ACCOUNT.password, ip)).status).toBe(429);
    // …and goes in once the wait is over. The address and name count starts over; the address's
    // own count (9 failures) does not, so its tenth failure starts the address's delays.
    now += 16_000;
    expect((await attempt(ACCOUNT.password, ip)).status).toBe(200);
    expect((await attempt(WRONG, ip)).status).toBe(401);
    expect(await attempt(WRONG, ip)).toEqual({ status: 429, retryAfter: 1 });
    now += 15 * 60_000;
    expect((await attempt(WRONG, ip)).status).toBe(401);
    now += 15 * 60_000;
  });

  it('slows an address that sprays many user names', async () => {
    const ip = '10.9.0.1';
    for (let i = 0; i < 10; i++) expect((await attempt(WRONG, ip, `sprayed-${i}`)).status).toBe(401);
    const refused = await attempt(WRONG, ip, 'sprayed-10');
    expect(refused).toEqual({ status: 429, retryAfter: 1 });
    // A success from there does not wipe the tally either.
    expect((await attempt(ACCOUNT.password, ip)).status).toBe(429);
    now += 15 * 60_000;
  });

  it('a name attacked from many addresses slows only failing addresses, and only by up to a minute', async () => {
    for (let i = 0; i < 25; i++) expect((await attempt(WRONG, `10.10.0.${i}`)).status).toBe(401);
    // A clean address: in at once, whatever happened to the name.
    expect((await attempt(ACCOUNT.password, '10.10.1.1')).status).toBe(200);
    // An address that failed once waits for the name's slow-down, never more than a minute.
    const slowed = await attempt(ACCOUNT.password, '10.10.0.3');
    expect(slowed.status).toBe(429);
    expect(slowed.retryAfter).toBeGreaterThan(0);
    expect(slowed.retryAfter).toBeLessThanOrEqual(60);
    now += slowed.retryAfter * 1000;
    expect((await attempt(ACCOUNT.password, '10.10.0.3')).status).toBe(200);
    now += 15 * 60_000;
  });

  it('logs and audits every failed attempt, and the throttled ones in the metrics', async () => {
    const before = await t.app.db
      .selectFrom('admin_audit_log')
      .select((eb) => eb.fn.countAll<number>().as('n'))
      .where('action', '=', 'auth.login_failed')
      .executeTakeFirstOrThrow();
    expect((await attempt(WRONG, '10.11.0.1')).status).toBe(401);
    expect((await attempt('whatever-password', '10.11.0.1', 'nobody-here')).status).toBe(401);
    const rows = await t.app.db
      .selectFrom('admin_audit_log')
      .selectAll()
      .where('action', '=', 'auth.login_failed')
      .orderBy('id', 'desc')
      .limit(2)
      .execute();
    expect(rows.length).toBe(2);
    expect(Number(before.n) + 2).toBe(
      Number(
        (
          await t.app.db
            .selectFrom('admin_audit_log')
            .select((eb) => eb.fn.countAll<number>().as('n'))
            .where('action', '=', 'auth.login_failed')
            .executeTakeFirstOrThrow()
        ).n,
      ),
    );
    const [unknown, wrong] = rows;
    expect(unknown).toMatchObject({
      admin_user_id: null,
      admin_username: 'nobody-here',
      ip: '10.11.0.1',
      after: { reason: 'unknown_username' },
    });
    expect(wrong).toMatchObject({
      admin_username: ACCOUNT.username,
      target_type: 'admin',
      ip: '10.11.0.1',
      after: { reason: 'wrong_password' },
    });
    expect(wrong!.admin_user_id).toBeGreaterThan(0);
    const metrics = await t.app.metrics.text();
    expect(metrics).toMatch(/vitte_admin_logins_total\{result="failure"\} \d+/);
    expect(metrics).toMatch(/vitte_admin_logins_throttled_total\{scope="address_username"\} [1-9]/);
    expect(metrics).toMatch(/vitte_admin_logins_throttled_total\{scope="username"\} [1-9]/);
    expect(metrics).toMatch(/vitte_admin_logins_throttled_total\{scope="address"\} [1-9]/);
  });
});
