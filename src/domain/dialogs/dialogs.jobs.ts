import type { JobHandlers } from '../../platform/queue/index.js';
import type { Jobs } from '../jobs.js';
import type { SettingsService } from '../settings/settings.service.js';
import type { DialogsService } from './dialogs.service.js';

export function dialogsJobs(
  dialogs: DialogsService,
  settings: SettingsService,
): Pick<JobHandlers<Jobs>, 'dialogs.delete-old-messages'> {
  return {
    'dialogs.delete-old-messages': async (_payload, ctx) => {
      const days = await settings.get('messages.retention_days');
      return { deleted: await dialogs.deleteOldMessages(days, 5_000, ctx.signal) };
    },
  };
}
