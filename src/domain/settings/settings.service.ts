import { isDeepStrictEqual } from 'node:util';
import type { InvalidationBus } from '../../platform/cache.js';
import type { Transactor } from '../../platform/db/transactor.js';
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
 * A setting's effective value (the default when nothing valid is stored) before and after a change;
 * `changed` is false when the write would have changed nothing, and nothing was written.
 */
export interface SettingChange<V> {
  before: unknown;
  after: V;
  changed: boolean;
}

interface CacheState {
  entries: Map<SettingKey, { value: unknown; expiresAt: number }>;
  /** Bumped on every invalidation: a read that started before one must not fill the cache. */
  generation: number;
}

/**
 * Typed runtime settings. Values are cached in process for `ttlMs`; a write invalidates this
 * process at once and every other process through the invalidation bus.
 */
export class SettingsService {
  private readonly state: CacheState = { entries: new Map(), generation: 0 };

  constructor(
    private readonly tx: Transactor,
    private readonly repo: SettingsRepository,
    private readonly bus: InvalidationBus,
    private readonly logger: Logger,
    private readonly ttlMs = 30_000,
  ) {
    bus.subscribe('settings', (key) => this.invalidate(isSettingKey(key) ? key : undefined));
  }

  async get<K extends SettingKey>(key: K): Promise<SettingValue<K>> {
    const hit = this.state.entries.get(key);
    if (hit && hit.expiresAt > Date.now()) return hit.value as SettingValue<K>;
    const generation = this.state.generation;
    const value = this.parseStored(key, await this.repo.find(key));
    // Not cached when a write was announced meanwhile (the value read may predate it), nor when read
    // inside a transaction (which may itself be changing it, and may roll back).
    if (!this.tx.active && generation === this.state.generation) {
      this.state.entries.set(key, { value, expiresAt: Date.now() + this.ttlMs });
    }
    return value;
  }

  /**
   * Validate and store a value, in the caller's transaction when there is one. Throws
   * ValidationError with the field problems.
   */
  async set<K extends SettingKey>(key: K, value: unknown): Promise<SettingChange<SettingValue<K>>> {
    const parsed = this.validate(key, value);
    // Saving the value in effect is no change: a default stays a default (not "customized").
    const { before, changed } = await this.change(key, async (current) => {
      if (isDeepStrictEqual(current, parsed)) return false;
      await this.repo.upsert(key, parsed, settingDefinitions[key].description);
      return true;
    });
    this.logger.info({ setting: key, changed }, changed ? 'setting changed' : 'setting saved unchanged');
    return { before, after: parsed, changed };
  }

  /** Go back to the built-in default. */
  async reset<K extends SettingKey>(key: K): Promise<SettingChange<SettingValue<K>>> {
    const { before, changed } = await this.change(key, (_current, stored) =>
      stored ? this.repo.delete(key).then(() => true) : Promise.resolve(false),
    );
    this.logger.info(
      { setting: key, changed },
      changed ? 'setting reset to default' : 'setting already default',
    );
    return { before, after: settingDefinitions[key].default as SettingValue<K>, changed };
  }

  /**
   * Under the key's lock, `write` decides from the effective value (and whether one is stored)
   * whether to write; every process drops its cached value once a change committed. Returns the
   * effective value before.
   */
  private change(
    key: SettingKey,
    write: (current: unknown, stored: boolean) => Promise<boolean>,
  ): Promise<{ before: unknown; changed: boolean }> {
    return this.tx.run(async () => {
      await this.repo.lock(key);
      const stored = await this.repo.find(key);
      const before = this.parseStored(key, stored);
      const changed = await write(before, stored !== undefined);
      if (changed) {
        await this.tx.afterCommit(async () => {
          this.invalidate(key);
          await this.bus.publish('settings', key);
        });
      }
      return { before, changed };
    });
  }

  private invalidate(key: SettingKey | undefined): void {
    this.state.generation++;
    if (key) this.state.entries.delete(key);
    else this.state.entries.clear();
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
