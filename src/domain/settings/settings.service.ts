import type { InvalidationBus } from '../../platform/cache.js';
import { ValidationError } from '../../platform/errors.js';
import type { Logger } from '../../platform/logger.js';
import {
  isSettingKey,
  type SettingKey,
  type SettingValue,
  settingDefinitions,
} from './settings.definitions.js';
import type { SettingsRepository } from './settings.repository.js';

export interface SettingView {
  key: SettingKey;
  description: string;
  value: unknown;
  isDefault: boolean;
}

/**
 * Typed runtime settings. Values are cached in process for `ttlMs`; a write invalidates this
 * process at once and every other process through the invalidation bus.
 */
export class SettingsService {
  private readonly cache = new Map<SettingKey, { value: unknown; expiresAt: number }>();

  constructor(
    private readonly repo: SettingsRepository,
    private readonly bus: InvalidationBus,
    private readonly logger: Logger,
    private readonly ttlMs = 30_000,
  ) {
    bus.subscribe('settings', (key) => {
      if (isSettingKey(key)) this.cache.delete(key);
      else this.cache.clear();
    });
  }

  async get<K extends SettingKey>(key: K): Promise<SettingValue<K>> {
    const hit = this.cache.get(key);
    if (hit && hit.expiresAt > Date.now()) return hit.value as SettingValue<K>;
    const value = this.parseStored(key, await this.repo.find(key));
    this.cache.set(key, { value, expiresAt: Date.now() + this.ttlMs });
    return value;
  }

  /** Validate and store a value. Throws ValidationError with the field problems. */
  async set<K extends SettingKey>(key: K, value: unknown): Promise<SettingValue<K>> {
    const parsed = this.validate(key, value);
    await this.repo.upsert(key, parsed, settingDefinitions[key].description);
    this.cache.delete(key);
    await this.bus.publish('settings', key);
    this.logger.info({ setting: key }, 'setting changed');
    return parsed;
  }

  /** Go back to the built-in default. */
  async reset(key: SettingKey): Promise<void> {
    await this.repo.delete(key);
    this.cache.delete(key);
    await this.bus.publish('settings', key);
    this.logger.info({ setting: key }, 'setting reset to default');
  }

  validate<K extends SettingKey>(key: K, value: unknown): SettingValue<K> {
    const res = settingDefinitions[key].schema.safeParse(value);
    if (!res.success) {
      throw new ValidationError(`invalid value for ${key}`, {
        issues: res.error.issues.map((i) => ({ path: i.path.join('.'), message: i.message })),
      });
    }
    return res.data as SettingValue<K>;
  }

  async list(): Promise<SettingView[]> {
    const stored = new Map((await this.repo.findAll()).map((r) => [r.key, r.value]));
    return (Object.keys(settingDefinitions) as SettingKey[]).map((key) => ({
      key,
      description: settingDefinitions[key].description,
      value: stored.has(key) ? this.parseStored(key, stored.get(key)) : settingDefinitions[key].default,
      isDefault: !stored.has(key),
    }));
  }

  private parseStored<K extends SettingKey>(key: K, stored: unknown): SettingValue<K> {
    const def = settingDefinitions[key];
    if (stored === undefined) return def.default as SettingValue<K>;
    const res = def.schema.safeParse(stored);
    if (res.success) return res.data as SettingValue<K>;
    // A value that no longer matches the schema (e.g. after an upgrade) must not break the bot.
    this.logger.warn({ setting: key, issues: res.error.issues }, 'stored setting is invalid; using default');
    return def.default as SettingValue<K>;
  }
}
