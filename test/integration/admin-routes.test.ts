import type { FastifyInstance, LightMyRequestResponse } from 'fastify';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { registerAdmin } from '../../src/admin/index.js';
import { createHttpServer } from '../../src/platform/http.js';
import { createTestApp, type TestApp } from '../helpers/app.js';
import { has } from '../helpers/services.js';

/**
 * Routes anyone may call: the sign-in, health for probes, static assets, and stored pictures, whose
 * signed link is their credential (a link without a valid signature is a 403).
 */
const PUBLIC = new Set([
  'GET /admin/login',
  'POST /admin/login',
  'POST /admin/api/login',
  'GET /admin/health',
  'GET /admin/objects/*',
]);
const isAsset = (url: string) => url.startsWith('/admin/assets/');

/**
 * POSTs a viewer may make: they change nothing shared (signing out, their own profile) or change
 * nothing at all (the composer's preview and audience count).
 */
const VIEWER_POSTS = new Set([
  'POST /admin/logout',
  'POST /admin/api/logout',
  'POST /admin/profile',
  'POST /admin/profile/password',
  'PUT /admin/api/profile',
  'POST /admin/api/profile/password',
  'POST /admin/broadcasts/preview',
  'POST /admin/broadcasts/audience',
  'POST /admin/api/broadcasts/preview',
  'POST /admin/api/broadcasts/audience-count',
]);

const SAFE = ['GET', 'HEAD', 'OPTIONS'];

interface Route {
  method: string;
  url: string;
}

function concrete(url: string): string {
  return url
    .replace(/:id\b/g, '1')
    .replace(/:key\b/g, 'llm.model')
    .replace(/:[A-Za-z]+/g, 'x')
    .replace(/\*/g, 'x');
}

function cookieOf(res: LightMyRequestResponse): string {
  const header = res.headers['set-cookie'];
  const all = Array.isArray(header) ? header : [header ?? ''];
  return all.find((c) => c.startsWith('vitte_admin='))!.split(';')[0]!;
}

function suite(label: string, redis: boolean) {
  describe.skipIf(redis && !has('redis'))(`every admin route (${label})`, () => {
    let t: TestApp;
    let f: FastifyInstance;
    const routes: Route[] = [];
    let viewer: { cookie: string; csrf: string };
    let owner: { cookie: string; csrf: string };

    async function signIn(username: string, password: string) {
      const res = await f.inject({
        method: 'POST',
        url: '/admin/api/login',
        payload: { username, password },
      });
      expect(res.statusCode, res.body).toBe(200);
      return { cookie: cookieOf(res), csrf: res.json().csrfToken as string };
    }

    beforeAll(async () => {
      t = await createTestApp({}, { label: `admin_routes_${label}`, redis });
      f = createHttpServer({ logger: t.app.logger, metrics: t.app.metrics, trustProxy: false });
      f.addHook('onRoute', (r) => {
        for (const method of [r.method].flat()) routes.push({ method, url: r.url ?? r.path });
      });
      await registerAdmin(f, t.app);
      await f.ready();
      await t.app.admin.accounts.create({ username: 'own', password: 'owner-password-1', role: 'owner' });
      await t.app.admin.accounts.create({ username: 'view', password: 'viewer-password-1', role: 'viewer' });
      owner = await signIn('own', 'owner-password-1');
      viewer = await signIn('view', 'viewer-password-1');
    });
    afterAll(async () => {
      await f?.close();
      await t?.close();
    });

    const isPublic = (r: Route) => PUBLIC.has(`${r.method === 'HEAD' ? 'GET' : r.method} ${r.url}`);
    const guarded = () => routes.filter((r) => !isPublic(r) && !isAsset(r.url));

    it('found the routes of every section', () => {
      const urls = new Set(routes.map((r) => r.url));
      for (const u of [
        '/admin',
        '/admin/users',
        '/admin/users/:id',
        '/admin/settings',
        '/admin/broadcasts',
        '/admin/images',
        '/admin/api/images',
        '/admin/audit',
        '/admin/queues',
        '/admin/admins',
        '/admin/profile',
        '/admin/api/stats',
        '/admin/api/users',
        '/admin/api/settings/:key',
        '/admin/api/broadcasts',
        '/admin/api/audit',
      ]) {
        expect(urls, u).toContain(u);
      }
      if (redis) expect([...urls].some((u) => u.startsWith('/admin/queues/api/'))).toBe(true);
      expect(guarded().length).toBeGreaterThan(60);
    });

    it('without a session every route answers 401 or redirects to the sign-in page', async () => {
      const wrong: string[] = [];
      for (const r of guarded()) {
        for (const accept of ['text/html', 'application/json']) {
          const res = await f.inject({
            method: r.method as 'GET',
            url: concrete(r.url),
            headers: { accept },
          });
          const ok =
            res.statusCode === 401 ||
            (res.statusCode === 302 && String(res.headers.location).startsWith('/admin/login'));
          if (!ok) wrong.push(`${r.method} ${r.url} (${accept}) → ${res.statusCode}`);
        }
      }
      expect(wrong).toEqual([]);
    });

    it('a stale or forged session cookie is no session', async () => {
      const forged = await f.inject({
        url: '/admin/api/stats',
        headers: { cookie: 'vitte_admin=forged-token' },
      });
      expect(forged.statusCode).toBe(401);
      expect(String(forged.headers['set-cookie'])).toMatch(/vitte_admin=;/);
    });

    it('a viewer gets 403 on every mutation (and on owner pages), with a valid CSRF token', async () => {
      const wrong: string[] = [];
      const mutations = guarded().filter(
        (r) => !SAFE.includes(r.method) && !VIEWER_POSTS.has(`${r.method} ${r.url}`),
      );
      expect(mutations.length).toBeGreaterThan(30);
      for (const r of mutations) {
        const res = await f.inject({
          method: r.method as 'POST',
          url: concrete(r.url),
          headers: { cookie: viewer.cookie, 'x-csrf-token': viewer.csrf, 'content-type': 'application/json' },
          payload: '{}',
        });
        if (res.statusCode !== 403) wrong.push(`${r.method} ${r.url} → ${res.statusCode}`);
      }
      for (const url of ['/admin/admins', '/admin/api/admins']) {
        const res = await f.inject({ url, headers: { cookie: viewer.cookie } });
        if (res.statusCode !== 403) wrong.push(`GET ${url} → ${res.statusCode}`);
      }
      expect(wrong).toEqual([]);
      const audit = await t.app.db
        .selectFrom('admin_audit_log')
        .select('action')
        .where('admin_username', '=', 'view')
        .execute();
      expect(audit.map((a) => a.action)).toEqual(['auth.login']);
    });

    it('every page renders for the owner, with no inline script (CSP)', async () => {
      const pages = routes.filter(
        (r) =>
          r.method === 'GET' &&
          !isPublic(r) &&
          !r.url.includes(':') &&
          !r.url.includes('*') &&
          !r.url.startsWith('/admin/api') &&
          !isAsset(r.url) &&
          !r.url.startsWith('/admin/queues/'),
      );
      expect(pages.length).toBeGreaterThanOrEqual(9);
      for (const r of pages) {
        const res = await f.inject({ url: r.url, headers: { cookie: owner.cookie, accept: 'text/html' } });
        expect(res.statusCode, `${r.url}: ${res.body.slice(0, 300)}`).toBe(200);
        expect(res.headers['content-type']).toMatch(/text\/html/);
        expect(res.headers['content-security-policy']).toContain("script-src 'self'");
        const inline = [...res.body.matchAll(/<script(?![^>]*\bsrc=)(?![^>]*application\/json)[^>]*>/g)];
        expect(inline, r.url).toEqual([]);
      }
    });

    it('serves the assets publicly, and nothing else from node_modules', async () => {
      for (const url of [
        '/admin/assets/admin.css',
        '/admin/assets/admin.js',
        '/admin/assets/vendor/htmx.min.js',
        '/admin/assets/vendor/chart.umd.min.js',
      ]) {
        const res = await f.inject(url);
        expect(res.statusCode, url).toBe(200);
      }
      expect((await f.inject('/admin/assets/vendor/htmx.js')).statusCode).toBe(404);
      expect((await f.inject('/admin/assets/vendor/../package.json')).statusCode).toBe(404);
    });

    it(`queues: ${redis ? 'bull-board behind the session, read-only for viewers' : 'the in-process counts page'}`, async () => {
      const page = await f.inject({
        url: '/admin/queues',
        headers: { cookie: viewer.cookie, accept: 'text/html' },
      });
      expect(page.statusCode).toBe(200);
      if (!redis) {
        expect(page.body).toContain('runs in this process');
        return;
      }
      const api = await f.inject({ url: '/admin/queues/api/queues', headers: { cookie: viewer.cookie } });
      expect(api.statusCode, api.body).toBe(200);
      expect(api.json().queues.map((q: { name: string }) => q.name)).toContain('delivery');
      const pause = await f.inject({
        method: 'PUT',
        url: '/admin/queues/api/queues/delivery/pause',
        headers: { cookie: viewer.cookie },
      });
      expect(pause.statusCode).toBe(403);
      const crossSite = await f.inject({
        method: 'PUT',
        url: '/admin/queues/api/queues/delivery/pause',
        headers: { cookie: owner.cookie, origin: 'https://evil.example' },
      });
      expect(crossSite.statusCode).toBe(403);
      const ok = await f.inject({
        method: 'PUT',
        url: '/admin/queues/api/queues/delivery/pause',
        headers: { cookie: owner.cookie, origin: 'http://localhost:80' },
      });
      expect(ok.statusCode, ok.body).toBeLessThan(300);
      expect((await t.app.queue.counts()).delivery!.paused).toBe(true);
      await f.inject({
        method: 'PUT',
        url: '/admin/queues/api/queues/delivery/resume',
        headers: { cookie: owner.cookie },
      });
      const audit = await t.app.db
        .selectFrom('admin_audit_log')
        .selectAll()
        .where('action', 'like', 'queues.%')
        .orderBy('id')
        .execute();
      expect(audit.map((a) => [a.action, a.admin_username, a.target_type, a.target_id, a.after])).toEqual([
        ['queues.pause', 'own', 'queue', 'delivery', { method: 'PUT', queue: 'delivery' }],
        ['queues.resume', 'own', 'queue', 'delivery', { method: 'PUT', queue: 'delivery' }],
      ]);
    });

    // bull-board exists only with Redis; the in-process suite has no such routes to test.
    if (!redis) return;

    it('bull-board: job actions are audited with the job, failed ones with their status', async () => {
      const job = await f.inject({
        method: 'PUT',
        url: '/admin/queues/api/queues/delivery/no-such-job/promote',
        headers: { cookie: owner.cookie },
      });
      expect(job.statusCode).toBe(404);
      const cleanAll = await f.inject({
        method: 'PUT',
        url: '/admin/queues/api/queues/delivery/clean/failed',
        headers: { cookie: owner.cookie },
      });
      expect(cleanAll.statusCode, cleanAll.body).toBeLessThan(300);
      const rows = await t.app.db
        .selectFrom('admin_audit_log')
        .select(['action', 'target_type', 'target_id', 'after'])
        .where('action', 'in', ['queues.promote', 'queues.clean'])
        .orderBy('id')
        .execute();
      expect(rows).toEqual([
        {
          action: 'queues.promote',
          target_type: 'job',
          target_id: 'delivery/no-such-job',
          after: { method: 'PUT', queue: 'delivery', job: 'no-such-job', failedWithStatus: 404 },
        },
        {
          action: 'queues.clean',
          target_type: 'queue',
          target_id: 'delivery',
          after: { method: 'PUT', queue: 'delivery', status: 'failed' },
        },
      ]);
    });

    it('bull-board: a change whose audit row cannot be written is not made', async () => {
      await sql`create function vitte_test_refuse_audit() returns trigger language plpgsql as $$
        begin raise exception 'audit refused'; end $$`.execute(t.app.db);
      await sql`create trigger vitte_test_refuse_audit before insert on admin_audit_log for each row
        execute function vitte_test_refuse_audit()`.execute(t.app.db);
      try {
        const res = await f.inject({
          method: 'PUT',
          url: '/admin/queues/api/queues/delivery/pause',
          headers: { cookie: owner.cookie },
        });
        expect(res.statusCode).toBe(500);
        expect((await t.app.queue.counts()).delivery!.paused).toBe(false);
      } finally {
        await sql`drop trigger vitte_test_refuse_audit on admin_audit_log`.execute(t.app.db);
        await sql`drop function vitte_test_refuse_audit()`.execute(t.app.db);
      }
    });
  });
}

suite('in-process queue', false);
suite('bullmq', true);
