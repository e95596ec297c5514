import type { JobHandlers } from '../../platform/queue/index.js';
import type { Jobs } from '../jobs.js';
import type { ChatService } from './chat.service.js';
import type { SummaryService } from './summary.service.js';

export function chatJobs(
  chat: ChatService,
  summaries: SummaryService,
): Pick<JobHandlers<Jobs>, 'chat.reply' | 'chat.summarize' | 'chat.sweep'> {
  return {
    'chat.reply': async ({ dialogId }, ctx) => {
      const { heldForMs } = await chat.reply(
        dialogId,
        { isLast: ctx.attempt >= ctx.maxAttempts },
        ctx.signal,
      );
      // The holder answers this message too; should it have died, this job takes over once its lease is out.
      if (heldForMs !== undefined) ctx.defer(heldForMs + 1_000, 'another job holds the reply lease');
    },
    'chat.summarize': ({ dialogId }, ctx) => summaries.summarize(dialogId, ctx.signal),
    'chat.sweep': async () => ({ requeued: await chat.sweep() }),
  };
}
