import type { JobHandlers } from '../../platform/queue/index.js';
import type { Jobs } from '../jobs.js';
import type { RetentionService } from './retention.service.js';

export function retentionJobs(
  retention: RetentionService,
): Pick<JobHandlers<Jobs>, 'retention.scan' | 'retention.send'> {
  return {
    'retention.scan': (_payload, ctx) => retention.scan(ctx.signal),
    'retention.send': async ({ userId, stage }, ctx) => {
      const result = await retention.send(userId, stage, {
        isLastAttempt: ctx.attempt >= ctx.maxAttempts,
        signal: ctx.signal,
      });
      // Same queue as broadcasts: a 429 pauses every delivery, reminders and broadcasts alike.
      if (result.kind === 'rate_limited') ctx.rateLimited(result.retryAfterMs);
      return result;
    },
  };
}
