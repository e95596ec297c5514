import type { FastifyInstance, InjectOptions, LightMyRequestResponse } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bootstrapAdmin, registerAdmin } from '../../src/admin/index.js';
import { DEFAULT_CATALOGUE } from '../../src/domain/payments/catalogue.js';
import { createHttpServer } from '../../src/platform/http.js';
import { bootstrapPasswordFor, chooseOwnerPassword } from '../helpers/admin.js';
import { createTestApp, type TestApp } from '../helpers/app.js';

const OWNER = { username: 'owner', password: 'owner-password-1' };
const VIEWER = { username: 'viewer', password: 'viewer-password-1' };

/**
 * The panel's payment pages and forms through Fastify's inject: the catalogue editor (a form that
 * round-trips, errors next to their field, audited), the Payments page (orphans first), a refund
 * from the form (audited, refused to a viewer).
 */
describe('admin: payments and the catalogue', () => {
  let t: TestApp;
  let f: FastifyInstance;
  const sessions: Record<string, { cookie: string; csrf: string }> = {};

  const login = async (who: typeof OWNER) => {
    const res = await f.inject({ method: 'POST', url: '/admin/api/login', payload: who });
    expect(res.statusCode, res.body).toBe(200);
    const cookie = ([res.headers['set-cookie']].flat() as string[]).find((c) =>
      c.startsWith('vitte_admin='),
    )!;
    return { cookie: cookie.split(';')[0]!, csrf: res.json().csrfToken as string };
  };
  const as = (who: string, opts: InjectOptions): Promise<LightMyRequestResponse> => {
    const s = sessions[who]!;
    return f.inject({ ...opts, headers: { ...(opts.headers as Record<string, string>), cookie: s.cookie } });
  };
  const form = (who: string, url: string, fields: Record<string, string>) =>
    as(who, {
      method: 'POST',
      url,
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      payload: new URLSearchParams({ ...fields, _csrf: sessions[who]!.csrf }).toString(),
    });

  beforeAll(async () => {
    t = await createTestApp(
      {
        ADMIN_BOOTSTRAP_USERNAME: OWNER.username,
        ADMIN_BOOTSTRAP_PASSWORD: bootstrapPasswordFor(OWNER.password),
      },
      { label: 'admin_payments' },
    );
    await bootstrapAdmin(t.app);
    await chooseOwnerPassword(t.app, OWNER);
    f = createHttpServer({ logger: t.app.logger, metrics: t.app.metrics, trustProxy: false });
    await registerAdmin(f, t.app);
    await f.ready();
    sessions.owner = await login(OWNER);
    await t.app.admin.accounts.create({ ...VIEWER, role: 'viewer' });
    sessions.viewer = await login(VIEWER);
  });
  afterAll(async () => {
    await f?.close();
    await t?.close();
  });

  /** The catalogue as the editor posts it: every rendered field, as a browser would send them. */
  function catalogueForm(products = DEFAULT_CATALOGUE): Record<string, string> {
    const out: Record<string, string> = {};
    products.forEach((p, i) => {
      const k = (name: string) => `products.${i}.${name}`;
      Object.assign(out, {
        [k('row')]: '1',
        [k('code')]: p.code,
        [k('kind')]: p.kind,
        [k('price')]: String(p.price),
        [k('plan')]: p.plan ?? '',
        [k('days')]: p.days === undefined ? '' : String(p.days),
        [k('images')]: p.images === undefined ? '' : String(p.images),
        [k('title_en')]: p.title.en,
        [k('title_ru')]: p.title.ru,
        [k('description_en')]: p.description.en,
        [k('description_ru')]: p.description.ru,
        ...(p.active ? { [k('active')]: '1' } : {}),
      });
    });
    return out;
  }

  it('the catalogue editor round-trips the defaults, shows errors at their field, and audits changes', async () => {
    const page = await as('owner', { url: '/admin/settings' });
    expect(page.statusCode).toBe(200);
    expect(page.body).toContain('name="products.7.code" value="pack_200"');

    const fields = catalogueForm();
    fields['products.3.price'] = '10001';
    fields['products.0.title_en'] = 'x'.repeat(40);
    const bad = await form('owner', '/admin/settings/payments.catalogue', fields);
    expect(bad.statusCode).toBe(422);
    expect(bad.body).toMatch(/Star subscription costs at most 10000/);
    expect(bad.body).toMatch(/at most 32 characters/);
    expect(await t.app.settings.get('payments.catalogue')).toEqual(DEFAULT_CATALOGUE);
    // A product whose code was cleared is refused at its field, not silently deleted.
    const cleared = { ...catalogueForm(), 'products.0.code': '' };
    const refused = await form('owner', '/admin/settings/payments.catalogue', cleared);
    expect(refused.statusCode).toBe(422);
    expect(await t.app.settings.get('payments.catalogue')).toEqual(DEFAULT_CATALOGUE);

    const good = {
      ...catalogueForm(
        DEFAULT_CATALOGUE.map((p) => (p.code === 'pack_20' ? { ...p, price: 120, active: false } : p)),
      ),
      // The editor's empty row for a new product, as the browser posts it: skipped.
      'products.8.row': '1',
      'products.8.kind': 'plan',
      'products.8.active': '1',
    };
    const saved = await form('owner', '/admin/settings/payments.catalogue', good);
    expect(saved.statusCode).toBe(303);
    const after = await t.app.settings.get('payments.catalogue');
    expect(after.find((p) => p.code === 'pack_20')).toMatchObject({ price: 120, active: false });
    expect((await t.app.payments.offers()).map((p) => p.code)).not.toContain('pack_20');
    const [audit] = await t.app.admin.audit.list({
      limit: 1,
      action: 'setting.update',
      targetId: 'payments.catalogue',
    });
    expect(audit).toMatchObject({ admin_username: 'owner', before: DEFAULT_CATALOGUE });
    await t.app.settings.reset('payments.catalogue');
  });

  it('lists orphans first and refunds from the form, audited; a viewer cannot', async () => {
    const userId = 882_000_001;
    await t.app.users.register({ id: userId, first_name: 'Orphan' });
    await t.app.settings.set('payments.orphan_policy', 'manual');
    const orphan = await t.app.payments.credit({
      userId,
      chargeId: 'stx-admin-orphan',
      providerChargeId: undefined,
      payload: 'o-unknown',
      currency: 'XTR',
      amount: 42,
      subscriptionExpiresAt: undefined,
      isRecurring: false,
      isFirstRecurring: false,
      raw: { update_id: 77, message: { successful_payment: { total_amount: 42 } } },
    });
    await t.app.settings.reset('payments.orphan_policy');

    const list = await as('owner', { url: '/admin/payments' });
    expect(list.statusCode).toBe(200);
    expect(list.body.indexOf('data-testid="orphans"')).toBeGreaterThan(-1);
    expect(list.body.indexOf('data-testid="orphans"')).toBeLessThan(
      list.body.indexOf('data-testid="payments"'),
    );
    const detail = await as('owner', { url: `/admin/payments/${orphan.payment.id}` });
    expect(detail.body).toContain('unknown order');
    expect(detail.body).toContain('&quot;update_id&quot;: 77');
    expect(detail.body).toContain(`action="/admin/payments/${orphan.payment.id}/refund"`);

    const denied = await form('viewer', `/admin/payments/${orphan.payment.id}/refund`, {});
    expect(denied.statusCode).toBe(403);
    const done = await form('owner', `/admin/payments/${orphan.payment.id}/refund`, {});
    expect(done.statusCode).toBe(303);
    expect(done.headers.location).toBe(`/admin/payments/${orphan.payment.id}?done=refund`);
    expect((await t.app.payments.get(orphan.payment.id)).payment.status).toBe('refund_pending');
    const [audit] = await t.app.admin.audit.list({ limit: 1, action: 'payment.refund' });
    expect(audit).toMatchObject({ target_id: String(orphan.payment.id), before: { status: 'orphan' } });
    // A second request is a conflict, not a second refund.
    expect((await form('owner', `/admin/payments/${orphan.payment.id}/refund`, {})).statusCode).toBe(409);
  });
});
