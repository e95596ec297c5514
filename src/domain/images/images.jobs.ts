import type { JobHandlers } from '../../platform/queue/index.js';
import type { Jobs } from '../jobs.js';
import type { AttemptResult } from './image-attempt.js';
import type { ImagesService } from './images.service.js';

/** One attempt at a picture (an ImageAttempt with the worker's ComfyUI pool). */
export type RunImageAttempt = (
  jobId: number,
  opts: { isLastAttempt: boolean; signal: AbortSignal },
) => Promise<AttemptResult>;

export function imagesJobs(
  images: ImagesService,
  attempt: RunImageAttempt,
): Pick<JobHandlers<Jobs>, 'images.generate' | 'images.sweep'> {
  return {
    'images.generate': async ({ jobId }, ctx) => {
      const result = await attempt(jobId, {
        isLastAttempt: ctx.attempt >= ctx.maxAttempts,
        signal: ctx.signal,
      });
      // Held by an attempt whose worker may have died: come back when its lease runs out.
      if (result.kind === 'busy') ctx.defer(result.retryInMs, 'picture held by another attempt');
      return result;
    },
    'images.sweep': () => images.sweep(),
  };
}
