import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SettingsRepository } from '../../src/domain/settings/settings.repository.js';
import { SettingsService } from '../../src/domain/settings/settings.service.js';
import { ValidationError } from '../../src/platform/errors.js';
import { createTestApp, type TestApp } from '../helpers/app.js';
import { silentLogger } from '../helpers/db.js';
import { has } from '../helpers/services.js';

describe('settings', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await createTestApp({}, { label: 'settings' });
  });
  afterAll(async () => t?.close());

  it('returns typed defaults when nothing is stored', async () => {
    expect(await t.app.settings.get('quota.period_hours')).toBe(24);
    expect((await t.app.settings.get('plans')).free).toEqual({ messages_limit: 30, images_limit: 3 });
  });

  it('validates values and reports every problem with its path', async () => {
    const err = await t.app.settings
      .set('plans', { premium: { messages_limit: -1, images_limit: 'x' } })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ValidationError);
    const issues = (err as ValidationError).details?.issues as { path: string }[];
    expect(issues.map((i) => i.path)).toEqual(
      expect.arrayContaining(['premium.messages_limit', 'premium.images_limit']),
    );
    await expect(
      t.app.settings.set('retention.window', { start_hour: 22, end_hour: 8, time_zone: 'Mars/Base' }),
    ).rejects.toThrow(ValidationError);
  });

  it('caches in process and invalidates on write', async () => {
    await t.app.settings.set('quota.period_hours', 12);
    expect(await t.app.settings.get('quota.period_hours')).toBe(12);
    // A second service over the same database sees the new value only after its cache expires or is invalidated.
    const other = new SettingsService(new SettingsRepository(t.app.db), t.app.bus, silentLogger, 60_000);
    expect(await other.get('quota.period_hours')).toBe(12);
    await t.app.settings.set('quota.period_hours', 6);
    expect(await other.get('quota.period_hours')).toBe(6);
    await t.app.settings.reset('quota.period_hours');
    expect(await other.get('quota.period_hours')).toBe(24);
  });

  it('falls back to the default when a stored value no longer validates', async () => {
    await t.app.db
      .insertInto('settings')
      .values({ key: 'messages.retention_days', value: JSON.stringify('ninety'), description: null })
      .execute();
    const fresh = new SettingsService(new SettingsRepository(t.app.db), t.app.bus, silentLogger);
    expect(await fresh.get('messages.retention_days')).toBe(90);
    const listed = await fresh.list();
    expect(listed.find((s) => s.key === 'messages.retention_days')).toMatchObject({
      value: 90,
      isDefault: false,
    });
  });
});

describe.skipIf(!has('redis'))('settings across processes (Redis invalidation)', () => {
  let a: TestApp;
  beforeAll(async () => {
    a = await createTestApp({}, { label: 'settings_redis', redis: true });
  });
  afterAll(async () => a?.close());

  it('a write in one app invalidates the cache of another app on the same Redis', async () => {
    const { createApp } = await import('../../src/app.js');
    const b = createApp(a.app.config, { logger: silentLogger, role: 'test-b' });
    try {
      await b.redis!.ping();
      expect(await b.settings.get('quota.period_hours')).toBe(24);
      await new Promise((r) => setTimeout(r, 100)); // let b's subscription settle
      await a.app.settings.set('quota.period_hours', 48);
      await expect.poll(() => b.settings.get('quota.period_hours'), { timeout: 5_000 }).toBe(48);
    } finally {
      await b.close();
    }
  });
});
