import type { JobHandlers } from '../../platform/queue/index.js';
import type { Jobs } from '../jobs.js';
import type { Notify } from './notify.js';
import type { SubscriptionsService } from './subscriptions.service.js';

export function subscriptionsJobs(
  subscriptions: SubscriptionsService,
  notify: Notify,
): Pick<JobHandlers<Jobs>, 'subscriptions.expire' | 'subscriptions.reset-quotas'> {
  return {
    'subscriptions.expire': async (_payload, ctx) => {
      const expired = await subscriptions.expireDue();
      // Each user is moved back to free exactly once, so each is told once.
      for (const e of expired) {
        await notify(e.userId, 'subscription-expired', { plan: e.plan }).catch((err: unknown) =>
          ctx.logger.warn({ err, userId: e.userId }, 'expiry notice not delivered'),
        );
      }
      return { expired: expired.length };
    },
    'subscriptions.reset-quotas': async () => ({ reset: await subscriptions.resetEndedPeriods() }),
  };
}
