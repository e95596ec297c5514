import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { settingDefinitions } from '../../src/domain/settings/settings.definitions.js';
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
    const { issues } = err as ValidationError;
    expect(issues.map((i) => i.path)).toEqual(
      expect.arrayContaining(['premium.messages_limit', 'premium.images_limit']),
    );
    await expect(
      t.app.settings.set('retention.window', { start_hour: 22, end_hour: 8, time_zone: 'Mars/Base' }),
    ).rejects.toThrow(ValidationError);
  });

  it('refuses texts Telegram could not parse as HTML, saying why, where they are', async () => {
    const err = await t.app.settings
      .set('bot.welcome_text', { en: 'Hi {name}, <b>welcome', ru: 'Привет, {name}!' })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ValidationError);
    const { issues } = err as ValidationError;
    expect(issues).toEqual([{ path: 'en', message: expect.stringContaining('not valid Telegram HTML') }]);
    await t.app.settings.set('bot.welcome_text', { en: 'Hi <b>{name}</b> &amp; welcome', ru: '' });
  });

  it('caches in process and invalidates on write', async () => {
    await t.app.settings.set('quota.period_hours', 12);
    expect(await t.app.settings.get('quota.period_hours')).toBe(12);
    // A second service over the same database sees the new value only after its cache expires or is invalidated.
    const other = new SettingsService(
      t.app.tx,
      new SettingsRepository(t.app.tx),
      t.app.bus,
      silentLogger,
      60_000,
    );
    expect(await other.get('quota.period_hours')).toBe(12);
    await t.app.settings.set('quota.period_hours', 6);
    expect(await other.get('quota.period_hours')).toBe(6);
    await t.app.settings.reset('quota.period_hours');
    expect(await other.get('quota.period_hours')).toBe(24);
  });

  it('serves the cached value, not the database, until an invalidation arrives', async () => {
    const other = new SettingsService(
      t.app.tx,
      new SettingsRepository(t.app.tx),
      t.app.bus,
      silentLogger,
      60_000,
    );
    await t.app.settings.set('llm.model', 'cached-model');
    expect(await other.get('llm.model')).toBe('cached-model');
    // A change behind the service's back (another tool, a restore) is not seen while cached…
    await t.app.db
      .updateTable('settings')
      .set({ value: JSON.stringify('changed-in-db') })
      .where('key', '=', 'llm.model')
      .execute();
    expect(await other.get('llm.model')).toBe('cached-model');
    // …and is once the key is invalidated, as a write in any process does.
    await t.app.bus.publish('settings', 'llm.model');
    expect(await other.get('llm.model')).toBe('changed-in-db');
  });

  it('expires cached values after the TTL', async () => {
    const shortLived = new SettingsService(
      t.app.tx,
      new SettingsRepository(t.app.tx),
      t.app.bus,
      silentLogger,
      1,
    );
    await t.app.settings.set('llm.model', 'before-ttl');
    expect(await shortLived.get('llm.model')).toBe('before-ttl');
    await t.app.db
      .updateTable('settings')
      .set({ value: JSON.stringify('after-ttl') })
      .where('key', '=', 'llm.model')
      .execute();
    await new Promise((r) => setTimeout(r, 5));
    expect(await shortLived.get('llm.model')).toBe('after-ttl');
  });

  it('a read that overlaps a write does not put the old value back into the cache', async () => {
    let readDone!: () => void;
    let release!: () => void;
    const read = new Promise<void>((r) => {
      readDone = r;
    });
    const gate = new Promise<void>((r) => {
      release = r;
    });
    // The read reaches the database before the write and comes back after it.
    class SlowRepository extends SettingsRepository {
      override async find(key: string) {
        const value = await super.find(key);
        if (key === 'messages.retention_days') {
          readDone();
          await gate;
        }
        return value;
      }
    }
    await t.app.settings.reset('messages.retention_days');
    const other = new SettingsService(
      t.app.tx,
      new SlowRepository(t.app.tx),
      t.app.bus,
      silentLogger,
      60_000,
    );
    const overlapping = other.get('messages.retention_days');
    await read;
    await t.app.settings.set('messages.retention_days', 45);
    release();
    expect(await overlapping).toBe(90);
    expect(await other.get('messages.retention_days')).toBe(45);
    await t.app.settings.reset('messages.retention_days');
  });

  it("joins the caller's transaction: side writes commit with the change, and a failing one rolls it back", async () => {
    const seen: unknown[] = [];
    await t.app.tx.run(async () => {
      seen.push(await t.app.settings.set('quota.period_hours', 8));
      // The write is visible inside the transaction…
      const row = await t.app.tx.db
        .selectFrom('settings')
        .select('value')
        .where('key', '=', 'quota.period_hours')
        .executeTakeFirstOrThrow();
      seen.push(row.value);
    });
    expect(seen).toEqual([{ before: 24, after: 8 }, 8]);

    // …and a failing side write rolls it back.
    const failing = t.app.tx.run(async () => {
      await t.app.settings.set('quota.period_hours', 9);
      throw new Error('audit down');
    });
    await expect(failing).rejects.toThrow('audit down');
    expect(await t.app.settings.get('quota.period_hours')).toBe(8);
    await expect(
      t.app.tx.run(async () => {
        await t.app.settings.reset('quota.period_hours');
        throw new Error('audit down');
      }),
    ).rejects.toThrow('audit down');
    expect(await t.app.settings.get('quota.period_hours')).toBe(8);

    expect(await t.app.settings.reset('quota.period_hours')).toEqual({ before: 8, after: 24 });
    expect(await t.app.settings.get('quota.period_hours')).toBe(24);
  });

  it('inside a transaction, reads go through that transaction', async () => {
    const cold = new SettingsService(t.app.tx, new SettingsRepository(t.app.tx), t.app.bus, silentLogger);
    await t.app.tx.run(async () => {
      await t.app.tx.db
        .insertInto('settings')
        .values({ key: 'llm.system_prompt', value: JSON.stringify('only inside'), description: null })
        .execute();
      // Only a read on this transaction can see its own uncommitted row.
      expect(await cold.get('llm.system_prompt')).toBe('only inside');
      await t.app.tx.db.deleteFrom('settings').where('key', '=', 'llm.system_prompt').execute();
    });
    // What the transaction read was not cached for everyone else.
    expect(await cold.get('llm.system_prompt')).toBe(settingDefinitions['llm.system_prompt'].default);
  });

  it('falls back to the default when a stored value no longer validates', async () => {
    await t.app.db
      .insertInto('settings')
      .values({ key: 'messages.retention_days', value: JSON.stringify('ninety'), description: null })
      .execute();
    const fresh = new SettingsService(t.app.tx, new SettingsRepository(t.app.tx), t.app.bus, silentLogger);
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
