import type { SettingKey, SettingValue } from '../settings/settings.definitions.js';
import type { SettingChangeHook, SettingsService } from '../settings/settings.service.js';
import type { Actor, AuditService } from './audit.service.js';

/**
 * Settings changed from the panel: each change and its audit row (the effective value before and
 * after, defaults included) commit in one transaction, so no change lands unaudited.
 */
export class SettingsAdminService {
  constructor(
    private readonly settings: SettingsService,
    private readonly audit: AuditService,
  ) {}

  private audited(actor: Actor, action: string, key: SettingKey): SettingChangeHook {
    return async (trx, { before, after }) => {
      await this.audit.record(actor, { action, targetType: 'setting', targetId: key, before, after }, trx);
    };
  }

  set<K extends SettingKey>(actor: Actor, key: K, value: unknown): Promise<SettingValue<K>> {
    return this.settings.set(key, value, this.audited(actor, 'setting.update', key));
  }

  reset(actor: Actor, key: SettingKey): Promise<void> {
    return this.settings.reset(key, this.audited(actor, 'setting.reset', key));
  }
}
