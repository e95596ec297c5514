import type { InvalidationBus } from '../../platform/cache.js';
import type { Db } from '../../platform/db/database.js';
import { ValidationError } from '../../platform/errors.js';
import type { Logger } from '../../platform/logger.js';
import {
  isSettingKey,
  type SettingKey,
  type SettingValue,
  settingDefinitions,
} from './settings.definitions.js';
import { SettingsRepository } from './settings.repository.js';

export interface SettingView {
  key: SettingKey;
  description: string;
  value: unknown;
  isDefault: boolean;
}

/**
 * Runs inside the transaction that changes a setting, with the effective values (the default
 * when nothing valid is stored): e.g. to write the audit row that must commit with the change.
 */
export type SettingChangeHook = (trx: Db, change: { before: unknown; after: unknown }) => Promise<void>;

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
  private readonly state: CacheState;
  private readonly transactionView: boolean;

  constructor(
    private readonly repo: SettingsRepository,
    private readonly bus: InvalidationBus,
    private readonly logger: Logger,
    private readonly ttlMs = 30_000,
    /** Only for `inTransaction`: the cache of the service the view was made from. */
    shared?: CacheState,
  ) {
    this.transactionView = shared !== undefined;
    this.state = shared ?? { entries: new Map(), generation: 0 };
    if (!shared) bus.subscribe('settings', (key) => this.invalidate(isSettingKey(key) ? key : undefined));
  }

  /**
   * The same settings for code running inside the open transaction `trx`: cached values as usual,
   * misses read on `trx` itself. A read on another connection would wait for the one the
   * transaction holds — forever on PGlite, which has a single connection.
   */
  inTransaction(trx: Db): SettingsService {
    return new SettingsService(new SettingsRepository(trx), this.bus, this.logger, this.ttlMs, this.state);
  }

  async get<K extends SettingKey>(key: K): Promise<SettingValue<K>> {
    const hit = this.state.entries.get(key);
    if (hit && hit.expiresAt > Date.now()) return hit.value as SettingValue<K>;
    const generation = this.state.generation;
    const value = this.parseStored(key, await this.repo.find(key));
    // Not cached when a write was announced meanwhile (the value read may predate it), nor when read
    // inside a transaction (which may itself be changing it).
    if (!this.transactionView && generation === this.state.generation) {
      this.state.entries.set(key, { value, expiresAt: Date.now() + this.ttlMs });
    }
    return value;
  }

  /**
   * Validate and store a value; `within` runs in the same transaction. Throws ValidationError with
   * the field problems.
   */
  async set<K extends SettingKey>(
    key: K,
    value: unknown,
    within?: SettingChangeHook,
  ): Promise<SettingValue<K>> {
    const parsed = this.validate(key, value);
    await this.change(key, within, parsed, (repo) =>
      repo.upsert(key, parsed, settingDefinitions[key].description),
    );
    this.logger.info({ setting: key }, 'setting changed');
    return parsed;
  }

  /** Go back to the built-in default; `within` runs in the same transaction. */
  async reset(key: SettingKey, within?: SettingChangeHook): Promise<void> {
    await this.change(key, within, settingDefinitions[key].default, (repo) => repo.delete(key));
    this.logger.info({ setting: key }, 'setting reset to default');
  }

  /** Write under the key's lock with `within` in the same transaction; invalidate once it committed. */
  private async change(
    key: SettingKey,
    within: SettingChangeHook | undefined,
    after: unknown,
    write: (repo: SettingsRepository) => Promise<void>,
  ): Promise<void> {
    await this.repo.transaction(async (repo, trx) => {
      await repo.lock(key);
      const before = this.parseStored(key, await repo.find(key));
      await write(repo);
      await within?.(trx, { before, after });
    });
    this.invalidate(key);
    await this.bus.publish('settings', key);
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
