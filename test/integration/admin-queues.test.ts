import type { FastifyInstance, InjectOptions } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { registerAdmin } from '../../src/admin/index.js';
import { healthSummary, type SystemHealth } from '../../src/admin/system-health.js';
import { createHttpServer } from '../../src/platform/http.js';
import { createTestApp, type TestApp } from '../helpers/app.js';
import { has } from '../helpers/services.js';

const HOST = '127.0.0.1:3001';
const ADMIN = { username: 'queue-admin', password: 'queue-admin-password-1' };
const VIEWER = { username: 'queue-viewer', password: 'queue-viewer-password-1' };

/** bull-board behind the panel on BullMQ: who may change the queues, and what a viewer may read. */
describe.skipIf(!has('redis'))('admin queues (bull-board on Redis)', () => {
  let t: TestApp;
  let f: FastifyInstance;
  const cookies: Record<string, string> = {};

  beforeAll(async () => {
    t = await createTestApp({}, { redis: true, label: 'admin_queues' });
    f = createHttpServer({ logger: t.app.logger, metrics: t.app.metrics, trustProxy: false });
    await registerAdmin(f, t.app);
    await f.ready();
    await t.app.admin.accounts.create({ ...ADMIN, role: 'admin' });
    await t.app.admin.accounts.create({ ...VIEWER, role: 'viewer' });
    for (const who of [ADMIN, VIEWER]) {
      const res = await f.inject({ method: 'POST', url: '/admin/api/login', payload: who });
      cookies[who.username] = String(res.headers['set-cookie']).split(';')[0]!;
    }
  });
  afterAll(async () => {
    await f?.close();
    await t?.close();
  });

  const call = (who: { username: string }, opts: InjectOptions) =>
    f.inject({ ...opts, headers: { host: HOST, cookie: cookies[who.username]!, ...opts.headers } });

  it('refuses a change from another origin on the same host (no port, another port, another scheme)', async () => {
    for (const origin of [
      'http://127.0.0.1',
      'http://127.0.0.1:80',
      'http://127.0.0.1:3002',
      'https://127.0.0.1:3001',
    ]) {
      const res = await call(ADMIN, {
        method: 'PUT',
        url: '/admin/queues/api/queues/pause',
        headers: { origin },
      });
      expect(res.statusCode, origin).toBe(403);
      expect(res.json().error.code, origin).toBe('csrf_failed');
    }
    expect(Object.values(await t.app.queue.counts()).some((c) => c.paused)).toBe(false);
    const own = await call(ADMIN, {
      method: 'PUT',
      url: '/admin/queues/api/queues/pause',
      headers: { origin: `http://${HOST}` },
    });
    expect(own.statusCode).toBe(200);
    expect(Object.values(await t.app.queue.counts()).every((c) => c.paused)).toBe(true);
    await call(ADMIN, {
      method: 'PUT',
      url: '/admin/queues/api/queues/resume',
      headers: { origin: `http://${HOST}` },
    });
  });

  it("shows a viewer the Redis server's load, not its version, OS, port or the workers' addresses", async () => {
    const full = (await call(ADMIN, { url: '/admin/queues/api/redis/stats' })).json();
    expect(full).toMatchObject({ version: expect.any(String), port: 6379, os: expect.any(String) });
    const viewer = await call(VIEWER, { url: '/admin/queues/api/redis/stats' });
    expect(viewer.statusCode).toBe(200);
    const summary = viewer.json();
    expect(Object.keys(summary).sort()).toEqual(['backend', 'clients', 'memory']);
    expect(summary.memory.used).toBeGreaterThan(0);
    expect(viewer.body).not.toContain(full.version);

    const workers = await call(VIEWER, { url: '/admin/queues/api/queues/delivery/workers' });
    expect(workers.statusCode).toBe(200);
    expect(workers.body).not.toContain('addr');
  });

  it("gives a viewer the dashboard's health without the servers' error details", async () => {
    const health = (await call(ADMIN, { url: '/admin/api/stats' })).json().health as SystemHealth;
    const down = { status: 'error', reason: 'connect ECONNREFUSED 10.0.4.2:6379' } as const;
    const seen = healthSummary({ ...health, redis: down, queue: { ...health.queue, status: down } });
    expect(seen.redis).toEqual({ status: 'error', reason: 'unavailable' });
    expect(JSON.stringify(seen)).not.toContain('10.0.4.2');
    expect(seen.db).toEqual(health.db);
  });
});
