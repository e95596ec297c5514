import type { JobHandlers } from '../../platform/queue/index.js';
import type { Jobs } from '../jobs.js';
import type { BroadcastsService } from './broadcasts.service.js';

export function broadcastsJobs(
  broadcasts: BroadcastsService,
): Pick<JobHandlers<Jobs>, 'broadcast.start' | 'broadcast.tick' | 'broadcast.deliver'> {
  return {
    'broadcast.start': ({ broadcastId }) => broadcasts.runStart(broadcastId),
    'broadcast.tick': () => broadcasts.tick(),
    'broadcast.deliver': async ({ broadcastId, userId }, ctx) => {
      const result = await broadcasts.deliver(broadcastId, userId, {
        isLastAttempt: ctx.attempt >= ctx.maxAttempts,
        signal: ctx.signal,
      });
      // Pauses the whole delivery queue, in every worker process, for Telegram's retry_after.
      if (result.kind === 'rate_limited') ctx.rateLimited(result.retryAfterMs);
      // Only this job waits, keeping its attempts: the delivery is in another attempt's hands for now.
      if (result.kind === 'busy') ctx.defer(result.retryInMs, result.detail);
      return result;
    },
  };
}
