import type { Transactor } from '../../platform/db/transactor.js';
import type { SettingKey, SettingValue } from '../settings/settings.definitions.js';
import type { SettingsService } from '../settings/settings.service.js';
import type { Actor, AuditService } from './audit.service.js';

/**
 * Settings changed from the panel: each change and its audit row (the effective value before and
 * after, defaults included) commit in one transaction, so no change lands unaudited; a save that
 * changes nothing writes nothing, audit row included.
 */
export class SettingsAdminService {
  constructor(
    private readonly tx: Transactor,
    private readonly settings: SettingsService,
    private readonly audit: AuditService,
  ) {}

  set<K extends SettingKey>(actor: Actor, key: K, value: unknown): Promise<SettingValue<K>> {
    return this.tx.run(async () => {
      const { before, after, changed } = await this.settings.set(key, value);
      if (!changed) return after;
      await this.audit.record(actor, {
        action: 'setting.update',
        targetType: 'setting',
        targetId: key,
        before,
        after,
      });
      return after;
    });
  }

  reset(actor: Actor, key: SettingKey): Promise<void> {
    return this.tx.run(async () => {
      const { before, after, changed } = await this.settings.reset(key);
      if (!changed) return;
      await this.audit.record(actor, {
        action: 'setting.reset',
        targetType: 'setting',
        targetId: key,
        before,
        after,
      });
    });
  }
}
