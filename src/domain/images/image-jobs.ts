import type { Updateable } from 'kysely';
import type { ImageJob, ImageJobsTable } from '../../platform/db/schema.js';
import type { Transactor } from '../../platform/db/transactor.js';
import type { Logger } from '../../platform/logger.js';
import type { ImageJobsRepository } from './image-jobs.repository.js';
import type { ImageQuota } from './image-quota.js';
import { ALLOWED, GIVES_BACK, type ImageAction, TARGET } from './image-transitions.js';
import type { ImagesMetrics } from './images.metrics.js';

export interface ImageJobsDeps {
  tx: Transactor;
  repo: ImageJobsRepository;
  quota: ImageQuota;
  metrics: ImagesMetrics;
  logger: Logger;
  /** After a job ended: queue the user's next picture whose turn it now is. */
  onFinished: (job: ImageJob) => Promise<void>;
}

/**
 * The one way an image job changes state: a transition from the states ALLOWED lists, in one
 * statement, and — for a job that ends without a delivered picture — the quota unit given back in
 * the same transaction. Of two racing transitions (the worker finishing, the user cancelling, the
 * sweeper expiring) exactly one moves the row, so the unit comes back at most once; and because the
 * give-back commits with the final state, it is never lost either.
 */
export class ImageJobs {
  constructor(private readonly d: ImageJobsDeps) {}

  /** The job after the move, or undefined when it was not in a state `action` may start from. */
  move(
    id: number,
    action: ImageAction,
    patch: Updateable<ImageJobsTable> = {},
    guard: { token?: string | undefined; unheldOnly?: boolean } = {},
  ): Promise<ImageJob | undefined> {
    const givesBack = GIVES_BACK.has(action);
    return this.d.tx.run(async () => {
      const job = await this.d.repo.transition(
        id,
        ALLOWED[action],
        TARGET[action],
        givesBack ? { ...patch, quota_returned_at: new Date() } : patch,
        guard,
      );
      if (!job) return undefined;
      if (givesBack && job.quota_source && job.quota_use_id !== null) {
        await this.d.quota.giveBack(job.user_id, { source: job.quota_source, useId: job.quota_use_id });
      }
      if (action !== 'generated') await this.d.tx.afterCommit(() => this.finished(job, givesBack));
      return job;
    });
  }

  private async finished(job: ImageJob, givenBack: boolean): Promise<void> {
    this.d.metrics.outcomes.inc({ outcome: job.status });
    const log = this.d.logger.child({ imageJobId: job.id, userId: job.user_id });
    const fields = { status: job.status, backend: job.backend, run: job.run, quotaReturned: givenBack };
    if (job.status === 'succeeded') log.info(fields, 'picture delivered');
    else log.warn({ ...fields, error: job.error }, 'picture ended without delivery');
    await this.d.onFinished(job);
  }
}
