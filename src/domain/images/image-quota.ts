import type { SettingsService } from '../settings/settings.service.js';
import type { PlanImagesRepository } from './plan-images.repository.js';

/** One image unit taken for a job: where it came from (`ref` is the quota's own, opaque here). */
export interface ImageUnit {
  source: 'plan' | 'pack';
  ref: string;
}

/**
 * The one thing images need of the quota. `take` and `giveBack` join the caller's transaction, so
 * a unit is taken together with the job row that holds it and given back together with the job's
 * one final transition — which is what makes the give-back happen at most once.
 */
export interface ImageQuota {
  /** One unit, atomically; undefined when none is left. */
  take(userId: number): Promise<ImageUnit | undefined>;
  /** Back to the source it was taken from. */
  giveBack(userId: number, unit: ImageUnit): Promise<void>;
  /** When spent units come back (the plan's period ends); null when the plan has no images. */
  resetsAt(userId: number): Promise<Date | null>;
}

/**
 * The plan's images only (subscriptions.images_used / images_limit, the quota period as messages
 * have it). The unit remembers the period it was taken in: given back after the period was reset,
 * it is not subtracted from the new period's count.
 */
export class PlanImageQuota implements ImageQuota {
  constructor(
    private readonly repo: PlanImagesRepository,
    private readonly settings: Pick<SettingsService, 'get'>,
  ) {}

  async take(userId: number): Promise<ImageUnit | undefined> {
    const periodStart = await this.repo.take(userId, await this.settings.get('quota.period_hours'));
    return periodStart ? { source: 'plan', ref: periodStart } : undefined;
  }

  async giveBack(userId: number, unit: ImageUnit): Promise<void> {
    if (unit.source !== 'plan') throw new Error(`the plan quota cannot take back a ${unit.source} unit`);
    await this.repo.giveBack(userId, unit.ref);
  }

  async resetsAt(userId: number): Promise<Date | null> {
    return this.repo.resetsAt(userId, await this.settings.get('quota.period_hours'));
  }
}
