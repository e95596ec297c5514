import type { FastifyInstance, InjectOptions, LightMyRequestResponse } from 'fastify';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bootstrapAdmin, registerAdmin } from '../../src/admin/index.js';
import { createHttpServer } from '../../src/platform/http.js';
import { createTestApp, type TestApp } from '../helpers/app.js';
import { createUser } from '../helpers/factories.js';

const OWNER = { username: 'owner', password: 'owner-password-1' };

interface Session {
  cookie: string;
  csrf: string;
}

describe('admin JSON API: scheduling, pausing, resuming and cancelling broadcasts', () => {
  let t: TestApp;
  let f: FastifyInstance;
  let owner: Session;

  function as(s: Session, opts: InjectOptions): Promise<LightMyRequestResponse> {
    const method = (opts.method ?? 'GET').toUpperCase();
    const headers: Record<string, string> = { cookie: s.cookie, ...(opts.headers as Record<string, string>) };
    if (!['GET', 'HEAD'].includes(method)) headers['x-csrf-token'] ??= s.csrf;
    return f.inject({ ...opts, headers });
  }

  const post = (url: string, payload?: object) =>
    as(owner, { method: 'POST', url, ...(payload ? { payload } : {}) });

  async function draft(text = '<b>News</b>'): Promise<number> {
    const res = await post('/admin/api/broadcasts', { text, audience: { kind: 'all' } });
    expect(res.statusCode, res.body).toBe(201);
    return res.json().id;
  }

  /** Audit rows of one broadcast, oldest first. */
  async function audit(id: number) {
    return t.app.db
      .selectFrom('admin_audit_log')
      .select(['action', 'admin_username', 'before', 'after'])
      .where('target_type', '=', 'broadcast')
      .where('target_id', '=', String(id))
      .orderBy('id')
      .execute();
  }

  beforeAll(async () => {
    t = await createTestApp(
      { ADMIN_BOOTSTRAP_USERNAME: OWNER.username, ADMIN_BOOTSTRAP_PASSWORD: OWNER.password },
      { label: 'admin_broadcasts' },
    );
    await bootstrapAdmin(t.app);
    f = createHttpServer({ logger: t.app.logger, metrics: t.app.metrics, trustProxy: false });
    await registerAdmin(f, t.app);
    await f.ready();
    const login = await f.inject({ method: 'POST', url: '/admin/api/login', payload: OWNER });
    expect(login.statusCode, login.body).toBe(200);
    const cookie = ([login.headers['set-cookie']].flat() as string[]).find((c) =>
      c.startsWith('vitte_admin='),
    );
    owner = { cookie: cookie!.split(';')[0]!, csrf: login.json().csrfToken };
    for (const n of [1, 2, 3]) await createUser(t.app, { id: 7_000 + n, firstName: `U${n}` });
  });
  afterAll(async () => {
    await f?.close();
    await t?.close();
  });

  it('schedules a draft (audited with the time before and after), refusing a bad or past time', async () => {
    const id = await draft();
    const at = new Date(Date.now() + 3_600_000).toISOString();
    const res = await post(`/admin/api/broadcasts/${id}/schedule`, { at });
    expect(res.statusCode, res.body).toBe(200);
    expect(res.json()).toMatchObject({ id, status: 'scheduled', scheduled_at: at });
    expect((await t.app.broadcasts.get(id)).scheduled_at?.toISOString()).toBe(at);

    const later = new Date(Date.now() + 7_200_000).toISOString();
    expect((await post(`/admin/api/broadcasts/${id}/schedule`, { at: later })).json().scheduled_at).toBe(
      later,
    );
    expect((await post(`/admin/api/broadcasts/${id}/schedule`, { at: 'tomorrow' })).statusCode).toBe(400);
    const past = await post(`/admin/api/broadcasts/${id}/schedule`, {
      at: new Date(Date.now() - 3_600_000).toISOString(),
    });
    expect(past.statusCode).toBe(400);
    expect(past.json().error.details.issues).toEqual([
      { path: 'scheduledAt', message: 'must be in the future' },
    ]);

    expect(await audit(id)).toEqual([
      expect.objectContaining({ action: 'broadcast.create', admin_username: 'owner' }),
      {
        action: 'broadcast.schedule',
        admin_username: 'owner',
        before: { status: 'draft', scheduled_at: null },
        after: { status: 'scheduled', scheduled_at: at },
      },
      expect.objectContaining({
        action: 'broadcast.schedule',
        before: { status: 'scheduled', scheduled_at: at },
        after: { status: 'scheduled', scheduled_at: later },
      }),
    ]);
  });

  it('pauses and resumes a running broadcast; a second pause or a resume of a running one is a 409', async () => {
    const id = await draft();
    expect((await post(`/admin/api/broadcasts/${id}/start`)).json().status).toBe('running');
    await t.app.broadcasts.runStart(id);

    const paused = await post(`/admin/api/broadcasts/${id}/pause`);
    expect(paused.statusCode, paused.body).toBe(200);
    expect(paused.json().status).toBe('paused');
    const again = await post(`/admin/api/broadcasts/${id}/pause`);
    expect(again.statusCode).toBe(409);
    expect(again.json().error.message).toBe('cannot pause a paused broadcast');

    const resumed = await post(`/admin/api/broadcasts/${id}/resume`);
    expect(resumed.statusCode, resumed.body).toBe(200);
    expect(resumed.json().status).toBe('running');
    expect((await post(`/admin/api/broadcasts/${id}/resume`)).statusCode).toBe(409);
    expect((await as(owner, { url: `/admin/api/broadcasts/${id}/progress` })).json()).toMatchObject({
      total: 3,
      pending: 3,
    });

    expect((await audit(id)).map((r) => [r.action, r.before, r.after])).toEqual([
      ['broadcast.create', null, expect.objectContaining({ status: 'draft' })],
      ['broadcast.start', { status: 'draft', scheduled_at: null }, { status: 'running', scheduled_at: null }],
      [
        'broadcast.pause',
        { status: 'running', scheduled_at: null },
        { status: 'paused', scheduled_at: null },
      ],
      [
        'broadcast.resume',
        { status: 'paused', scheduled_at: null },
        { status: 'running', scheduled_at: null },
      ],
    ]);
  });

  it('cancels: unsent deliveries are closed, the row is audited, a second cancel is a 409', async () => {
    const id = await draft();
    await post(`/admin/api/broadcasts/${id}/start`);
    await t.app.broadcasts.runStart(id);
    const res = await post(`/admin/api/broadcasts/${id}/cancel`);
    expect(res.statusCode, res.body).toBe(200);
    expect(res.json()).toMatchObject({ status: 'cancelled', finished_at: expect.any(String) });
    expect((await as(owner, { url: `/admin/api/broadcasts/${id}/progress` })).json()).toMatchObject({
      total: 3,
      pending: 0,
      cancelled: 3,
    });
    expect((await post(`/admin/api/broadcasts/${id}/cancel`)).statusCode).toBe(409);
    expect((await audit(id)).at(-1)).toMatchObject({
      action: 'broadcast.cancel',
      before: { status: 'running' },
      after: { status: 'cancelled' },
    });
  });

  it('an action whose audit row cannot be written does not happen', async () => {
    const id = await draft();
    await post(`/admin/api/broadcasts/${id}/start`);
    await t.app.broadcasts.runStart(id);
    // From now on the audit table refuses these actions' rows (older rows stay): the actions fail
    // and their changes roll back.
    await sql`alter table admin_audit_log add constraint ck_admin_audit_log_test_refuse
      check (action not in ('broadcast.pause', 'broadcast.cancel', 'broadcast.create')) not valid`.execute(
      t.app.db,
    );
    try {
      expect((await post(`/admin/api/broadcasts/${id}/pause`)).statusCode).toBe(500);
      expect((await post(`/admin/api/broadcasts/${id}/cancel`)).statusCode).toBe(500);
      const created = await post('/admin/api/broadcasts', { text: 'never', audience: { kind: 'all' } });
      expect(created.statusCode).toBe(500);
    } finally {
      await sql`alter table admin_audit_log drop constraint ck_admin_audit_log_test_refuse`.execute(t.app.db);
    }
    expect((await t.app.broadcasts.get(id)).status).toBe('running');
    expect(await t.app.broadcasts.progress(id)).toMatchObject({ pending: 3, cancelled: 0 });
    expect((await audit(id)).map((r) => r.action)).toEqual(['broadcast.create', 'broadcast.start']);
    expect(
      await t.app.db.selectFrom('broadcasts').select('id').where('text', '=', 'never').execute(),
    ).toEqual([]);
  });
});
