import type { ImageCreditsService } from '../subscriptions/image-credits.service.js';
import type { SubscriptionsService } from '../subscriptions/subscriptions.service.js';

/** One image unit taken for a job: where it came from, and the recorded use that gives it back. */
export interface ImageUnit {
  source: 'plan' | 'pack';
  useId: number;
}

/**
 * The one thing pictures need of the quota. `take` and `giveBack` join the caller's transaction, so
 * a unit is taken together with the job row that holds it and given back together with the job's
 * one final transition — which is what makes the give-back happen at most once on the job's side
 * (the credits keep their own once-only mark as well).
 */
export interface ImageQuota {
  /** One unit, atomically; undefined when none is left. */
  take(userId: number): Promise<ImageUnit | undefined>;
  /** Back to the source it was taken from. */
  giveBack(userId: number, unit: ImageUnit): Promise<void>;
  /** When spent plan units come back (the period ends); null when the plan has no images. */
  resetsAt(userId: number): Promise<Date | null>;
}

/**
 * The plan's images of the current period first, then purchased packs, oldest first
 * (ImageCreditsService, which records every unit taken and returns it to its source once).
 */
export class CreditsImageQuota implements ImageQuota {
  constructor(
    private readonly credits: Pick<ImageCreditsService, 'take' | 'giveBack'>,
    private readonly subscriptions: Pick<SubscriptionsService, 'quota'>,
  ) {}

  async take(userId: number): Promise<ImageUnit | undefined> {
    const taken = await this.credits.take(userId);
    return taken.ok ? { source: taken.source, useId: taken.useId } : undefined;
  }

  async giveBack(_userId: number, unit: ImageUnit): Promise<void> {
    await this.credits.giveBack(unit.useId);
  }

  async resetsAt(userId: number): Promise<Date | null> {
    const q = await this.subscriptions.quota(userId);
    return q.imagesLimit > 0 ? q.resetsAt : null;
  }
}
