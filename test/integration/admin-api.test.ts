import type { FastifyInstance, InjectOptions, LightMyRequestResponse } from 'fastify';
import { sql } from 'kysely';
import parsePrometheus from 'parse-prometheus-text-format';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bootstrapAdmin, registerAdmin } from '../../src/admin/index.js';
import { renderEntities } from '../../src/admin/views/telegram-preview.js';
import type { App } from '../../src/app.js';
import { settingDefinitions } from '../../src/domain/settings/settings.definitions.js';
import { parseTelegramHtml } from '../../src/integrations/telegram/format/telegram-html.js';
import { createHttpServer } from '../../src/platform/http.js';
import { createTestApp, type TestApp } from '../helpers/app.js';
import { createDialog, createUser } from '../helpers/factories.js';

interface Session {
  cookie: string;
  csrf: string;
}

function cookieOf(res: LightMyRequestResponse, name = 'vitte_admin'): string | undefined {
  const header = res.headers['set-cookie'];
  const all = Array.isArray(header) ? header : header ? [header] : [];
  return all.find((c) => c.startsWith(`${name}=`));
}

async function adminServer(app: App, trustProxy = false): Promise<FastifyInstance> {
  const f = createHttpServer({ logger: app.logger, metrics: app.metrics, trustProxy });
  await registerAdmin(f, app);
  await f.ready();
  return f;
}

const DAY = 86_400_000;
const OWNER = { username: 'owner', password: 'owner-password-1' };

describe('admin JSON API', () => {
  let t: TestApp;
  let f: FastifyInstance;
  let owner: Session;

  async function login(username: string, password: string, ip = '127.0.0.1'): Promise<Session> {
    const res = await f.inject({
      method: 'POST',
      url: '/admin/api/login',
      payload: { username, password },
      remoteAddress: ip,
    });
    expect(res.statusCode, res.body).toBe(200);
    return { cookie: cookieOf(res)!.split(';')[0]!, csrf: res.json().csrfToken };
  }

  function as(s: Session, opts: InjectOptions): Promise<LightMyRequestResponse> {
    const method = (opts.method ?? 'GET').toUpperCase();
    const headers: Record<string, string> = { cookie: s.cookie, ...(opts.headers as Record<string, string>) };
    if (!['GET', 'HEAD'].includes(method)) headers['x-csrf-token'] ??= s.csrf;
    return f.inject({ ...opts, headers });
  }

  function seedUser(
    id: number,
    o: {
      createdDaysAgo?: number;
      activeDaysAgo?: number;
      plan?: string;
      username?: string | null;
      first?: string;
      last?: string | null;
      blocked?: boolean;
      banned?: boolean;
    } = {},
  ) {
    const now = Date.now();
    return createUser(t.app, {
      id,
      username: o.username ?? undefined,
      firstName: o.first ?? `User${id}`,
      lastName: o.last ?? undefined,
      plan: o.plan,
      blocked: o.blocked,
      banned: o.banned,
      createdAt: new Date(now - (o.createdDaysAgo ?? 0) * DAY),
      lastActiveAt: new Date(now - (o.activeDaysAgo ?? 0) * DAY),
    });
  }

  beforeAll(async () => {
    t = await createTestApp(
      { ADMIN_BOOTSTRAP_USERNAME: OWNER.username, ADMIN_BOOTSTRAP_PASSWORD: OWNER.password },
      { label: 'admin_api' },
    );
    await bootstrapAdmin(t.app);
    f = await adminServer(t.app);
    owner = await login(OWNER.username, OWNER.password);
  });
  afterAll(async () => {
    await f?.close();
    await t?.close();
  });

  describe('bootstrap and accounts', () => {
    it('created the owner from the environment once; a second start changes nothing', async () => {
      const before = await t.app.db.selectFrom('admin_users').selectAll().execute();
      expect(before).toHaveLength(1);
      expect(before[0]).toMatchObject({ username: 'owner', role: 'owner' });
      expect(before[0]!.password_hash).toMatch(/^\$argon2id\$/);
      await bootstrapAdmin(t.app);
      expect(await t.app.db.selectFrom('admin_users').selectAll().execute()).toHaveLength(1);
    });

    it('generates a one-time password when nothing is configured, and only on the very first start', async () => {
      const other = await createTestApp({}, { label: 'admin_boot' });
      try {
        const first = await other.app.admin.accounts.bootstrap({});
        expect(first).toMatchObject({ kind: 'created', username: 'admin', source: 'generated' });
        const password = first.kind === 'created' ? first.password! : '';
        expect(password.length).toBeGreaterThanOrEqual(20);
        const signed = await other.app.admin.auth.login({
          username: 'admin',
          password,
          ip: '1.1.1.1',
          userAgent: null,
        });
        expect(signed.admin.role).toBe('owner');
        expect(await other.app.admin.accounts.bootstrap({})).toEqual({ kind: 'existing' });
      } finally {
        await other.close();
      }
    });

    it('owners create accounts; the last owner cannot be demoted; roles take effect at once', async () => {
      const created = await as(owner, {
        method: 'POST',
        url: '/admin/api/admins',
        payload: { username: 'Vera', password: 'viewer-password-1', role: 'viewer' },
      });
      expect(created.statusCode, created.body).toBe(201);
      expect(created.json()).toMatchObject({ username: 'vera', role: 'viewer' });
      expect(created.json().password_hash).toBeUndefined();

      const dup = await as(owner, {
        method: 'POST',
        url: '/admin/api/admins',
        payload: { username: 'vera', password: 'another-password-1', role: 'admin' },
      });
      expect(dup.statusCode).toBe(409);
      const weak = await as(owner, {
        method: 'POST',
        url: '/admin/api/admins',
        payload: { username: 'weak', password: 'short', role: 'admin' },
      });
      expect(weak.statusCode).toBe(400);
      expect(weak.json().error.details.issues[0].path).toBe('password');

      const viewer = await login('vera', 'viewer-password-1');
      expect((await as(viewer, { url: '/admin/api/stats' })).statusCode).toBe(200);
      const denied = await as(viewer, { method: 'POST', url: '/admin/api/users/1/ban', payload: {} });
      expect(denied.statusCode).toBe(403);
      expect(denied.json().error.code).toBe('forbidden');

      const me = (await as(owner, { url: '/admin/api/me' })).json().admin;
      const demoteSelf = await as(owner, {
        method: 'PATCH',
        url: `/admin/api/admins/${me.id}`,
        payload: { role: 'viewer' },
      });
      expect(demoteSelf.statusCode).toBe(400);

      // Promote the viewer: the same session gets the new role on its next request.
      await as(owner, {
        method: 'PATCH',
        url: `/admin/api/admins/${created.json().id}`,
        payload: { role: 'admin' },
      });
      const now = await as(viewer, { method: 'POST', url: '/admin/api/users/999/ban', payload: {} });
      expect(now.statusCode).toBe(404);
      // Disabling signs the account out everywhere.
      await as(owner, {
        method: 'PATCH',
        url: `/admin/api/admins/${created.json().id}`,
        payload: { disabled: true },
      });
      expect((await as(viewer, { url: '/admin/api/me' })).statusCode).toBe(401);
    });

    it('an admin sets a Telegram id and changes the password (other sessions end)', async () => {
      await as(owner, {
        method: 'POST',
        url: '/admin/api/admins',
        payload: { username: 'pat', password: 'pat-password-123', role: 'admin' },
      });
      const s1 = await login('pat', 'pat-password-123');
      const s2 = await login('pat', 'pat-password-123');
      const tg = await as(s1, {
        method: 'PUT',
        url: '/admin/api/profile',
        payload: { telegramUserId: 5550001 },
      });
      expect(tg.json().telegram_user_id).toBe(5550001);
      const bad = await as(s1, { method: 'PUT', url: '/admin/api/profile', payload: { telegramUserId: -4 } });
      expect(bad.statusCode).toBe(400);
      const wrong = await as(s1, {
        method: 'POST',
        url: '/admin/api/profile/password',
        payload: { current: 'nope-nope-nope', password: 'pat-password-456' },
      });
      expect(wrong.statusCode).toBe(400);
      expect(wrong.json().error.details.issues[0].path).toBe('current');
      const ok = await as(s1, {
        method: 'POST',
        url: '/admin/api/profile/password',
        payload: { current: 'pat-password-123', password: 'pat-password-456' },
      });
      expect(ok.statusCode).toBe(204);
      expect((await as(s1, { url: '/admin/api/me' })).statusCode).toBe(200);
      expect((await as(s2, { url: '/admin/api/me' })).statusCode).toBe(401);
      await login('pat', 'pat-password-456');
    });
  });

  describe('sign-in security', () => {
    it('answers the same for an unknown user and a wrong password', async () => {
      const unknown = await f.inject({
        method: 'POST',
        url: '/admin/api/login',
        payload: { username: 'ghost', password: 'whatever-123' },
        remoteAddress: '10.0.0.1',
      });
      const wrong = await f.inject({
        method: 'POST',
        url: '/admin/api/login',
        payload: { username: 'owner', password: 'whatever-123' },
        remoteAddress: '10.0.0.2',
      });
      expect(unknown.statusCode).toBe(401);
      expect(wrong.statusCode).toBe(401);
      expect(unknown.json().error.message).toBe(wrong.json().error.message);
      expect(unknown.json().error.code).toBe(wrong.json().error.code);
      // The one failure is forgotten after a successful sign-in.
      await login(OWNER.username, OWNER.password);
    });

    it('locks an account after 5 failures, even for the right password, and counts it in metrics', async () => {
      await as(owner, {
        method: 'POST',
        url: '/admin/api/admins',
        payload: { username: 'lock', password: 'lock-password-1', role: 'viewer' },
      });
      for (let i = 0; i < 5; i++) {
        const res = await f.inject({
          method: 'POST',
          url: '/admin/api/login',
          payload: { username: 'lock', password: `bad-password-${i}` },
          remoteAddress: `10.1.0.${i}`,
        });
        expect(res.statusCode).toBe(401);
      }
      const row = await t.app.db
        .selectFrom('admin_users')
        .selectAll()
        .where('username', '=', 'lock')
        .executeTakeFirstOrThrow();
      expect(row.locked_until!.getTime()).toBeGreaterThan(Date.now() + 10 * 60_000);
      const right = await f.inject({
        method: 'POST',
        url: '/admin/api/login',
        payload: { username: 'lock', password: 'lock-password-1' },
        remoteAddress: '10.1.1.1',
      });
      expect(right.statusCode).toBe(429);
      expect(Number(right.headers['retry-after'])).toBeGreaterThan(60);

      const metrics = parsePrometheus(await t.app.metrics.text());
      const logins = metrics.find((m) => m.name === 'vitte_admin_logins_total')!;
      const by = (result: string) =>
        Number(logins.metrics.find((m) => m.labels?.result === result)?.value ?? 0);
      expect(by('success')).toBeGreaterThan(0);
      expect(by('failure')).toBeGreaterThanOrEqual(5);
      expect(by('throttled') + by('locked')).toBeGreaterThanOrEqual(1);
    });

    it('throttles many attempts from one address', async () => {
      const results: number[] = [];
      for (let i = 0; i < 32; i++) {
        const res = await f.inject({
          method: 'POST',
          url: '/admin/api/login',
          payload: { username: `nobody${i}`, password: 'x-password-123' },
          remoteAddress: '10.9.9.9',
        });
        results.push(res.statusCode);
      }
      expect(results.slice(0, 30).every((s) => s === 401)).toBe(true);
      expect(results.slice(30)).toEqual([429, 429]);
    });

    const attempt = (payload: { username: string; password: string }, ip: string) =>
      f
        .inject({ method: 'POST', url: '/admin/api/login', payload, remoteAddress: ip })
        .then((r) => r.statusCode);

    it('counts only failures: one admin signs in 35 times in a row from one address', async () => {
      // More than both limits (5 per username, 30 per address) in one window.
      const statuses: number[] = [];
      for (let i = 0; i < 35; i++) statuses.push(await attempt(OWNER, '10.4.0.1'));
      expect(statuses).toEqual(Array(35).fill(200));
    });

    it("a success neither clears an address's failures nor counts against them", async () => {
      const ip = '10.4.0.2';
      for (let i = 0; i < 29; i++) {
        expect(await attempt({ username: `nobody-b${i}`, password: 'x-password-123' }, ip)).toBe(401);
      }
      expect(await attempt(OWNER, ip)).toBe(200);
      expect(await attempt({ username: 'nobody-b29', password: 'x-password-123' }, ip)).toBe(401);
      expect(await attempt({ username: 'nobody-b30', password: 'x-password-123' }, ip)).toBe(429);
      expect(await attempt(OWNER, ip)).toBe(429);
    });

    it('throttles failures per username; a success starts the count over', async () => {
      for (let i = 0; i < 5; i++) {
        expect(await attempt({ username: 'ghost-user', password: 'x-password-123' }, `10.5.0.${i}`)).toBe(
          401,
        );
      }
      expect(await attempt({ username: 'ghost-user', password: 'x-password-123' }, '10.5.0.9')).toBe(429);

      await as(owner, {
        method: 'POST',
        url: '/admin/api/admins',
        payload: { username: 'forgetful', password: 'forgetful-pass-1', role: 'viewer' },
      });
      const right = { username: 'forgetful', password: 'forgetful-pass-1' };
      const wrong = { username: 'forgetful', password: 'not-my-password' };
      for (let round = 0; round < 2; round++) {
        for (let i = 0; i < 4; i++) expect(await attempt(wrong, `10.6.${round}.${i}`)).toBe(401);
        expect(await attempt(right, `10.6.${round}.9`)).toBe(200);
      }
    });

    it('sets an httpOnly, strict, /admin-scoped cookie; secure behind TLS; the database keeps only a hash', async () => {
      const res = await f.inject({
        method: 'POST',
        url: '/admin/api/login',
        payload: OWNER,
        remoteAddress: '10.2.0.1',
      });
      const cookie = cookieOf(res)!;
      expect(cookie).toMatch(/HttpOnly/i);
      expect(cookie).toMatch(/SameSite=Strict/i);
      expect(cookie).toMatch(/Path=\/admin/);
      expect(cookie).not.toMatch(/Secure/i);
      const token = cookie.split(';')[0]!.split('=')[1]!;
      const rows = await t.app.db.selectFrom('admin_sessions').select('id').execute();
      expect(rows.some((r) => r.id === token)).toBe(false);
      expect(rows.every((r) => /^[0-9a-f]{64}$/.test(r.id))).toBe(true);

      const proxied = await adminServer(t.app, true);
      try {
        const tls = await proxied.inject({
          method: 'POST',
          url: '/admin/api/login',
          payload: OWNER,
          headers: { 'x-forwarded-proto': 'https' },
          remoteAddress: '10.2.0.2',
        });
        expect(cookieOf(tls)).toMatch(/Secure/i);
      } finally {
        await proxied.close();
      }
    });

    it('sign-in wants JSON; mutations need the CSRF token and a same-origin request', async () => {
      const form = await f.inject({
        method: 'POST',
        url: '/admin/api/login',
        payload: 'username=owner&password=x',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
      });
      expect(form.statusCode).toBe(415);
      const noToken = await f.inject({
        method: 'POST',
        url: '/admin/api/users/1/unban',
        headers: { cookie: owner.cookie },
      });
      expect(noToken.statusCode).toBe(403);
      expect(noToken.json().error.code).toBe('csrf_failed');
      const wrongToken = await as(owner, {
        method: 'POST',
        url: '/admin/api/users/1/unban',
        headers: { 'x-csrf-token': 'A'.repeat(43) },
      });
      expect(wrongToken.statusCode).toBe(403);
      const crossSite = await as(owner, {
        method: 'POST',
        url: '/admin/api/users/1/unban',
        headers: { origin: 'https://evil.example' },
      });
      expect(crossSite.statusCode).toBe(403);
      const sameSite = await as(owner, {
        method: 'POST',
        url: '/admin/api/users/1/unban',
        headers: { origin: 'http://localhost:80' },
      });
      expect(sameSite.statusCode).toBe(404); // passed the checks; user 1 does not exist
      const fetchMeta = await as(owner, {
        method: 'POST',
        url: '/admin/api/users/1/unban',
        headers: { 'sec-fetch-site': 'cross-site' },
      });
      expect(fetchMeta.statusCode).toBe(403);
    });

    it('signs out: the session is gone from the database', async () => {
      await as(owner, {
        method: 'POST',
        url: '/admin/api/admins',
        payload: { username: 'leaver', password: 'leaver-password-1', role: 'viewer' },
      });
      const s = await login('leaver', 'leaver-password-1', '10.3.0.1');
      const out = await as(s, { method: 'POST', url: '/admin/api/logout' });
      expect(out.statusCode).toBe(204);
      expect((await as(s, { url: '/admin/api/me' })).statusCode).toBe(401);
    });
  });

  describe('dashboard statistics', () => {
    it('equal what the database holds', async () => {
      await seedUser(100_001, { createdDaysAgo: 0, activeDaysAgo: 0, plan: 'premium' });
      await seedUser(100_002, { createdDaysAgo: 3, activeDaysAgo: 2 });
      await seedUser(100_003, { createdDaysAgo: 10, activeDaysAgo: 10, blocked: true });
      await seedUser(100_004, { createdDaysAgo: 40, activeDaysAgo: 40, banned: true });
      await seedUser(100_005, { createdDaysAgo: 0.1, activeDaysAgo: 0.1 });
      await createDialog(t.app, {
        userId: 100_001,
        title: 'd',
        messages: (
          [
            ['user', 0],
            ['user', 0],
            ['assistant', 0],
            ['user', 2],
            ['user', 5],
          ] as const
        ).map(([role, ago]) => ({ role, content: 'x', createdAt: new Date(Date.now() - ago * DAY) })),
      });
      const res = await as(owner, { url: '/admin/api/stats?fresh=1' });
      expect(res.statusCode).toBe(200);
      const s = res.json();

      const one = async (q: ReturnType<typeof sql<{ n: number }>>) =>
        Number((await q.execute(t.app.db)).rows[0]!.n);
      const midnight = new Date(new Date().toISOString().slice(0, 10));
      expect(s.users.total).toBe(await one(sql`select count(*) as n from users`));
      expect(s.users.newToday).toBe(
        await one(sql`select count(*) as n from users where created_at >= ${midnight}`),
      );
      expect(s.users.new7d).toBe(
        await one(sql`select count(*) as n from users where created_at >= now() - interval '7 days'`),
      );
      expect(s.users.new30d).toBe(
        await one(sql`select count(*) as n from users where created_at >= now() - interval '30 days'`),
      );
      expect(s.active.dau).toBe(
        await one(sql`select count(*) as n from users where last_active_at >= now() - interval '1 day'`),
      );
      expect(s.active.wau).toBe(
        await one(sql`select count(*) as n from users where last_active_at >= now() - interval '7 days'`),
      );
      expect(s.active.mau).toBe(
        await one(sql`select count(*) as n from users where last_active_at >= now() - interval '30 days'`),
      );
      expect(s.users.blockedBot).toBe(1);
      expect(s.users.banned).toBe(1);
      expect(s.messagesToday).toBe(
        await one(sql`select count(*) as n from messages where role = 'user' and created_at >= ${midnight}`),
      );
      expect(s.plans).toEqual(
        expect.arrayContaining([
          { plan: 'premium', count: 1 },
          { plan: 'free', count: 4 },
        ]),
      );
      expect(s.charts.days).toHaveLength(30);
      expect(s.charts.days.at(-1)).toBe(new Date().toISOString().slice(0, 10));
      expect(s.charts.newUsers.reduce((a: number, b: number) => a + b, 0)).toBe(
        await one(
          sql`select count(*) as n from users where created_at >= ${new Date(midnight.getTime() - 29 * DAY)}`,
        ),
      );
      expect(s.charts.messages.reduce((a: number, b: number) => a + b, 0)).toBe(4);
      expect(s.health.db.status).toBe('ok');
      expect(s.health.queue.kind).toBe('inline');
      expect(Object.keys(s.health.queue.counts)).toContain('delivery');
    });

    it('only admins can force a recount; a viewer asking for one gets the cached numbers', async () => {
      await as(owner, {
        method: 'POST',
        url: '/admin/api/admins',
        payload: { username: 'dash-viewer', password: 'dash-viewer-pass-1', role: 'viewer' },
      });
      const viewer = await login('dash-viewer', 'dash-viewer-pass-1', '10.8.0.1');
      const cached = (await as(owner, { url: '/admin/api/stats?fresh=1' })).json();
      await seedUser(100_006);
      const forViewer = (await as(viewer, { url: '/admin/api/stats?fresh=1' })).json();
      expect(forViewer.users.total).toBe(cached.users.total);
      expect(forViewer.generatedAt).toBe(cached.generatedAt);
      const page = await as(viewer, { url: '/admin?fresh=1', headers: { accept: 'text/html' } });
      expect(page.body).toContain(`data-testid="users-total">${cached.users.total}<`);
      expect(page.body).not.toContain('Recompute now');

      const forAdmin = (await as(owner, { url: '/admin/api/stats?fresh=1' })).json();
      expect(forAdmin.users.total).toBe(cached.users.total + 1);
      const adminPage = await as(owner, { url: '/admin', headers: { accept: 'text/html' } });
      expect(adminPage.body).toContain('Recompute now');
    });
  });

  describe('users', () => {
    beforeAll(async () => {
      for (let i = 0; i < 25; i++) {
        await seedUser(200_000 + i, {
          username: i % 5 === 0 ? `maria_${i}` : null,
          first: i % 2 ? 'Ivan' : 'Олег',
          last: i === 7 ? 'Petrov 100%' : null,
          plan: i % 4 === 0 ? 'premium' : 'free',
          banned: i === 3,
          blocked: i === 4,
        });
      }
    });

    it('searches by id, @username and name, filters by plan and status, pages by keyset', async () => {
      const byId = (await as(owner, { url: '/admin/api/users?q=200007' })).json();
      expect(byId.items.map((u: { id: number }) => u.id)).toEqual([200_007]);
      const byUsername = (
        await as(owner, { url: `/admin/api/users?q=${encodeURIComponent('@maria_1')}` })
      ).json();
      expect(byUsername.items.map((u: { username: string }) => u.username)).toEqual(['maria_15', 'maria_10']);
      const byName = (
        await as(owner, { url: `/admin/api/users?q=${encodeURIComponent('олег')}&limit=200` })
      ).json();
      expect(byName.items).toHaveLength(13);
      const literal = (await as(owner, { url: `/admin/api/users?q=${encodeURIComponent('100%')}` })).json();
      expect(literal.items.map((u: { id: number }) => u.id)).toEqual([200_007]);
      const premium = (await as(owner, { url: '/admin/api/users?q=ivan&plan=premium' })).json();
      expect(
        premium.items.every(
          (u: { plan: string; first_name: string }) => u.plan === 'premium' && u.first_name === 'Ivan',
        ),
      ).toBe(true);
      expect(
        (await as(owner, { url: '/admin/api/users?status=banned' }))
          .json()
          .items.map((u: { id: number }) => u.id),
      ).toContain(200_003);
      const blocked = (await as(owner, { url: '/admin/api/users?status=blocked' }))
        .json()
        .items.map((u: { id: number }) => u.id);
      expect(blocked).toContain(200_004);
      expect(blocked).not.toContain(200_003);

      const seen: number[] = [];
      let cursor: number | null = null;
      do {
        const page: { items: { id: number }[]; nextCursor: number | null } = (
          await as(owner, { url: `/admin/api/users?limit=7${cursor ? `&before=${cursor}` : ''}` })
        ).json();
        expect(page.items.length).toBeLessThanOrEqual(7);
        seen.push(...page.items.map((u) => u.id));
        cursor = page.nextCursor;
      } while (cursor !== null);
      const all = await t.app.db.selectFrom('users').select('id').orderBy('id', 'desc').execute();
      expect(seen).toEqual(all.map((u) => u.id));

      const bad = await as(owner, { url: '/admin/api/users?status=weird' });
      expect(bad.statusCode).toBe(400);
      expect(bad.json().error.details.issues[0].path).toBe('status');
    });

    it('bans (the cached user changes at once), unbans, and audits both in the same transaction', async () => {
      const id = 200_010;
      expect((await t.app.users.findCached(id))!.banned_at).toBeNull();
      const res = await as(owner, {
        method: 'POST',
        url: `/admin/api/users/${id}/ban`,
        payload: { reason: 'spam' },
      });
      expect(res.statusCode, res.body).toBe(200);
      const cached = await t.app.users.findCached(id);
      expect(cached!.banned_at).toBeInstanceOf(Date);
      expect(cached!.ban_reason).toBe('spam');
      const audit = await t.app.db
        .selectFrom('admin_audit_log')
        .selectAll()
        .where('action', '=', 'user.ban')
        .where('target_id', '=', String(id))
        .execute();
      expect(audit).toHaveLength(1);
      expect(audit[0]).toMatchObject({
        admin_username: 'owner',
        target_type: 'user',
        before: { banned_at: null, is_admin: false },
      });
      expect((audit[0]!.after as { ban_reason: string }).ban_reason).toBe('spam');

      await as(owner, { method: 'POST', url: `/admin/api/users/${id}/unban` });
      expect((await t.app.users.findCached(id))!.banned_at).toBeNull();
      const missing = await as(owner, { method: 'POST', url: '/admin/api/users/42/ban', payload: {} });
      expect(missing.statusCode).toBe(404);
      expect(
        await t.app.db.selectFrom('admin_audit_log').selectAll().where('target_id', '=', '42').execute(),
      ).toHaveLength(0);
    });

    it('grants a plan until a date, resets the quota, makes a bot admin; bad input is a 400 with the field', async () => {
      const id = 200_011;
      const until = new Date(Date.now() + 10 * DAY).toISOString().slice(0, 10);
      const granted = await as(owner, {
        method: 'POST',
        url: `/admin/api/users/${id}/plan`,
        payload: { plan: 'premium', until },
      });
      expect(granted.statusCode, granted.body).toBe(200);
      expect(granted.json().subscription).toMatchObject({ plan: 'premium', messages_limit: 1000 });
      expect(new Date(granted.json().subscription.expires_at).toISOString()).toBe(
        new Date(Date.parse(`${until}T00:00:00Z`) + DAY).toISOString(),
      );

      const unknownPlan = await as(owner, {
        method: 'POST',
        url: `/admin/api/users/${id}/plan`,
        payload: { plan: 'gold' },
      });
      expect(unknownPlan.statusCode).toBe(400);
      const past = await as(owner, {
        method: 'POST',
        url: `/admin/api/users/${id}/plan`,
        payload: { plan: 'premium', until: '2001-01-01' },
      });
      expect(past.statusCode).toBe(400);
      const badDate = await as(owner, {
        method: 'POST',
        url: `/admin/api/users/${id}/plan`,
        payload: { plan: 'premium', until: 'soon' },
      });
      expect(badDate.json().error.details.issues[0].path).toBe('until');

      await t.app.db
        .updateTable('subscriptions')
        .set({ messages_used: 9 })
        .where('user_id', '=', id)
        .execute();
      const reset = await as(owner, { method: 'POST', url: `/admin/api/users/${id}/reset-quota` });
      expect(reset.json().subscription.messages_used).toBe(0);
      const audit = await t.app.db
        .selectFrom('admin_audit_log')
        .selectAll()
        .where('action', '=', 'user.reset_quota')
        .executeTakeFirstOrThrow();
      expect(audit.before).toMatchObject({ messages_used: 9 });

      const made = await as(owner, {
        method: 'POST',
        url: `/admin/api/users/${id}/admin`,
        payload: { isAdmin: true },
      });
      expect(made.json().user.is_admin).toBe(true);
      expect((await t.app.users.findCached(id))!.is_admin).toBe(true);

      const detail = (await as(owner, { url: `/admin/api/users/${id}` })).json();
      expect(detail.user.id).toBe(id);
      expect(detail.subscription.plan).toBe('premium');
      expect(detail.usage).toEqual({ dialogs: 0, messages: 0, lastMessageAt: null });
      expect(detail.audit.map((a: { action: string }) => a.action)).toEqual([
        'user.make_admin',
        'user.reset_quota',
        'user.grant_plan',
      ]);
    });
  });

  describe('settings', () => {
    it('lists, validates with field paths, saves (effective at once, audited) and resets', async () => {
      const list = (await as(owner, { url: '/admin/api/settings' })).json().items;
      expect(list.map((s: { key: string }) => s.key)).toContain('plans');

      const bad = await as(owner, {
        method: 'PUT',
        url: '/admin/api/settings/plans',
        payload: { value: { premium: { messages_limit: -1, images_limit: 1 } } },
      });
      expect(bad.statusCode).toBe(400);
      const paths = bad.json().error.details.issues.map((i: { path: string }) => i.path);
      expect(paths).toEqual(expect.arrayContaining(['premium.messages_limit', '']));

      const value = {
        free: { messages_limit: 7, images_limit: 1 },
        premium: { messages_limit: 99, images_limit: 9 },
      };
      const ok = await as(owner, { method: 'PUT', url: '/admin/api/settings/plans', payload: { value } });
      expect(ok.statusCode, ok.body).toBe(200);
      expect(await t.app.settings.get('plans')).toEqual(value);
      const audit = await t.app.db
        .selectFrom('admin_audit_log')
        .selectAll()
        .where('action', '=', 'setting.update')
        .executeTakeFirstOrThrow();
      // "before" is what was in effect: the built-in default, as nothing was stored.
      expect(audit).toMatchObject({
        target_id: 'plans',
        before: settingDefinitions.plans.default,
        after: value,
      });

      expect(
        (await as(owner, { method: 'PUT', url: '/admin/api/settings/nope', payload: { value: 1 } }))
          .statusCode,
      ).toBe(404);
      expect(
        (await as(owner, { method: 'PUT', url: '/admin/api/settings/llm.model', payload: {} })).statusCode,
      ).toBe(400);

      expect((await as(owner, { method: 'DELETE', url: '/admin/api/settings/plans' })).statusCode).toBe(204);
      expect((await t.app.settings.get('plans')).free!.messages_limit).toBe(30);
      const resetRow = await t.app.db
        .selectFrom('admin_audit_log')
        .selectAll()
        .where('action', '=', 'setting.reset')
        .executeTakeFirstOrThrow();
      expect(resetRow).toMatchObject({ before: value, after: settingDefinitions.plans.default });
    });

    it('a change whose audit row cannot be written is not made (one transaction)', async () => {
      await as(owner, { method: 'PUT', url: '/admin/api/settings/llm.model', payload: { value: 'first' } });
      await sql`create function vitte_test_refuse_audit() returns trigger language plpgsql as $$
        begin raise exception 'audit refused'; end $$`.execute(t.app.db);
      await sql`create trigger vitte_test_refuse_audit before insert on admin_audit_log for each row
        when (new.target_type = 'setting') execute function vitte_test_refuse_audit()`.execute(t.app.db);
      try {
        const put = await as(owner, {
          method: 'PUT',
          url: '/admin/api/settings/llm.model',
          payload: { value: 'second' },
        });
        expect(put.statusCode).toBe(500);
        const del = await as(owner, { method: 'DELETE', url: '/admin/api/settings/llm.model' });
        expect(del.statusCode).toBe(500);
        const form = await as(owner, {
          method: 'POST',
          url: '/admin/settings/llm.model',
          payload: { v: 'third' },
          headers: { 'content-type': 'application/json' },
        });
        expect(form.statusCode).toBe(500);
      } finally {
        await sql`drop trigger vitte_test_refuse_audit on admin_audit_log`.execute(t.app.db);
        await sql`drop function vitte_test_refuse_audit()`.execute(t.app.db);
      }
      expect(await t.app.settings.get('llm.model')).toBe('first');
      const stored = await t.app.db
        .selectFrom('settings')
        .select('value')
        .where('key', '=', 'llm.model')
        .executeTakeFirstOrThrow();
      expect(stored.value).toBe('first');
    });
  });

  describe('broadcasts', () => {
    it('previews Telegram HTML, counts the audience, validates, creates and starts with audit', async () => {
      const preview = (
        await as(owner, {
          method: 'POST',
          url: '/admin/api/broadcasts/preview',
          payload: { text: '<b>Hi</b> & <i>you</i>' },
        })
      ).json();
      expect(preview).toMatchObject({ ok: true, text: 'Hi & you' });
      expect(preview.html).toBe('<b>Hi</b> &amp; <i>you</i>');
      const broken = (
        await as(owner, {
          method: 'POST',
          url: '/admin/api/broadcasts/preview',
          payload: { text: '<b>open' },
        })
      ).json();
      expect(broken.ok).toBe(false);
      expect(broken.issues[0].path).toBe('text');

      const count = await as(owner, {
        method: 'POST',
        url: '/admin/api/broadcasts/audience-count',
        payload: { audience: { kind: 'plan', plan: 'premium' } },
      });
      const expected = await sql<{ n: number }>`
        select count(*) as n from users u join subscriptions s on s.user_id = u.id
        where s.plan = 'premium' and u.banned_at is null and u.bot_blocked_at is null and u.notifications_enabled`.execute(
        t.app.db,
      );
      expect(count.json().count).toBe(Number(expected.rows[0]!.n));

      const invalid = await as(owner, {
        method: 'POST',
        url: '/admin/api/broadcasts',
        payload: { text: '<x>', audience: { kind: 'active', days: 0 } },
      });
      expect(invalid.statusCode).toBe(400);
      expect(invalid.json().error.details.issues.map((i: { path: string }) => i.path)).toEqual(
        expect.arrayContaining(['text', 'audience.days']),
      );

      const created = await as(owner, {
        method: 'POST',
        url: '/admin/api/broadcasts',
        payload: { text: '<b>News</b>', audience: { kind: 'all' } },
      });
      expect(created.statusCode, created.body).toBe(201);
      const b = created.json();
      expect(b).toMatchObject({ status: 'draft', created_by: 'owner' });

      const started = await as(owner, { method: 'POST', url: `/admin/api/broadcasts/${b.id}/start` });
      expect(started.statusCode, started.body).toBe(200);
      expect(started.json().status).toBe('running');
      const again = await as(owner, { method: 'POST', url: `/admin/api/broadcasts/${b.id}/start` });
      expect(again.statusCode).toBe(409);
      const progress = (await as(owner, { url: `/admin/api/broadcasts/${b.id}/progress` })).json();
      expect(progress).toHaveProperty('total');
      const detail = (await as(owner, { url: `/admin/api/broadcasts/${b.id}` })).json();
      expect(detail.broadcast.id).toBe(b.id);
      const listed = (await as(owner, { url: '/admin/api/broadcasts' })).json();
      expect(listed.items[0].id).toBe(b.id);

      const actions = (
        await t.app.db
          .selectFrom('admin_audit_log')
          .select('action')
          .where('target_type', '=', 'broadcast')
          .orderBy('id')
          .execute()
      ).map((r) => r.action);
      expect(actions).toEqual(['broadcast.create', 'broadcast.start']);

      const noTg = await as(owner, {
        method: 'POST',
        url: '/admin/api/broadcasts/test-send',
        payload: { text: 'hi' },
      });
      expect(noTg.statusCode).toBe(400);
    });
  });

  describe('audit log', () => {
    it('lists every mutation newest first with keyset pages and filters', async () => {
      const page1 = (await as(owner, { url: '/admin/api/audit?limit=3' })).json();
      expect(page1.items).toHaveLength(3);
      const page2 = (await as(owner, { url: `/admin/api/audit?limit=3&before=${page1.nextCursor}` })).json();
      expect(page2.items[0].id).toBeLessThan(page1.items[2].id);
      const bans = (await as(owner, { url: '/admin/api/audit?action=user.ban' })).json();
      expect(bans.items.every((a: { action: string }) => a.action === 'user.ban')).toBe(true);
      expect(bans.items[0]).toMatchObject({ admin_username: 'owner', ip: '127.0.0.1' });
    });
  });

  describe('rendering', () => {
    it('renders what Telegram shows: nested entities, links, spoilers, escaped text', () => {
      const parsed = parseTelegramHtml(
        '<b>bold <i>both</i></b> <a href="https://ex.am/p?a=1&amp;b=2">link</a> <tg-spoiler>s</tg-spoiler> 1 &lt; 2',
      );
      expect(renderEntities(parsed.text, parsed.entities).value).toBe(
        '<b>bold <i>both</i></b> <a href="https://ex.am/p?a=1&amp;b=2" target="_blank" rel="noopener noreferrer">link</a> <span class="tg-spoiler">s</span> 1 &lt; 2',
      );
    });

    it('escapes what users put in their names on every page that shows them', async () => {
      await seedUser(300_001, {
        first: '<script>alert(1)</script>',
        last: '"><img src=x onerror=alert(2)>',
        username: 'x<y',
      });
      for (const url of ['/admin/users?q=script', '/admin/users/300001']) {
        const res = await as(owner, { url, headers: { accept: 'text/html' } });
        expect(res.statusCode).toBe(200);
        expect(res.body).toContain('&lt;script&gt;alert(1)&lt;/script&gt;');
        expect(res.body).not.toContain('<script>alert');
        expect(res.body).not.toContain('<img src=x');
      }
    });
  });

  describe('health', () => {
    it('/admin/health answers without a session', async () => {
      const res = await f.inject('/admin/health');
      expect(res.statusCode).toBe(200);
      expect(res.json()).toEqual({ status: 'ok', checks: { db: 'ok' } });
    });
  });
});
