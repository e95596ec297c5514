import type { Subscription } from '../../platform/db/schema.js';
import { NotFoundError, ValidationError } from '../../platform/errors.js';
import type { Logger } from '../../platform/logger.js';
import type { PlanLimits } from '../settings/settings.definitions.js';
import type { SettingsService } from '../settings/settings.service.js';
import type { SubscriptionsRepository } from './subscriptions.repository.js';

export const FREE_PLAN = 'free';

export interface QuotaView {
  plan: string;
  expiresAt: Date | null;
  messagesUsed: number;
  messagesLimit: number;
  imagesUsed: number;
  imagesLimit: number;
  resetsAt: Date;
}

export type TakeResult = { ok: true; subscription: Subscription } | { ok: false; resetsAt: Date | null };

export class SubscriptionsService {
  constructor(
    private readonly repo: SubscriptionsRepository,
    private readonly settings: SettingsService,
    private readonly logger: Logger,
  ) {}

  async planLimits(plan: string): Promise<PlanLimits> {
    const plans = await this.settings.get('plans');
    const limits = plans[plan];
    if (!limits) throw new ValidationError(`unknown plan "${plan}"`, { plans: Object.keys(plans) });
    return limits;
  }

  async get(userId: number): Promise<Subscription> {
    const sub = await this.repo.findByUserId(userId);
    if (!sub) throw new NotFoundError(`user ${userId} has no subscription`);
    return sub;
  }

  /** The row, locked until the caller's transaction ends (before an audited change). */
  async getForUpdate(userId: number): Promise<Subscription> {
    const sub = await this.repo.findByUserIdForUpdate(userId);
    if (!sub) throw new NotFoundError(`user ${userId} has no subscription`);
    return sub;
  }

  /** The numbers /status shows, with a period that has ended shown as reset. */
  async quota(userId: number): Promise<QuotaView> {
    const [sub, periodHours] = await Promise.all([this.get(userId), this.settings.get('quota.period_hours')]);
    const periodMs = periodHours * 3_600_000;
    const ended = sub.quota_period_start.getTime() + periodMs <= Date.now();
    return {
      plan: sub.plan,
      expiresAt: sub.expires_at,
      messagesUsed: ended ? 0 : sub.messages_used,
      messagesLimit: sub.messages_limit,
      imagesUsed: ended ? 0 : sub.images_used,
      imagesLimit: sub.images_limit,
      resetsAt: new Date((ended ? Date.now() : sub.quota_period_start.getTime()) + periodMs),
    };
  }

  /** Atomically take one message from the user's quota. */
  async takeMessage(userId: number): Promise<TakeResult> {
    const periodHours = await this.settings.get('quota.period_hours');
    const sub = await this.repo.takeMessage(userId, periodHours);
    if (sub) return { ok: true, subscription: sub };
    const current = await this.repo.findByUserId(userId);
    const resetsAt =
      current && current.messages_limit > 0
        ? new Date(current.quota_period_start.getTime() + periodHours * 3_600_000)
        : null;
    return { ok: false, resetsAt };
  }

  /** Give back quota units taken for messages that got no answer. */
  refundMessages(userId: number, count = 1): Promise<void> {
    return this.repo.refundMessages(userId, count);
  }

  async resetQuota(userId: number): Promise<Subscription> {
    const sub = await this.repo.resetUsage(userId);
    if (!sub) throw new NotFoundError(`user ${userId} has no subscription`);
    this.logger.info({ userId }, 'quota reset');
    return sub;
  }

  /** Put a user on a plan until a date (null: no end). */
  async grantPlan(userId: number, plan: string, expiresAt: Date | null): Promise<Subscription> {
    if (expiresAt && expiresAt.getTime() <= Date.now())
      throw new ValidationError('the end date must be in the future');
    if (plan === FREE_PLAN && expiresAt) throw new ValidationError('the free plan does not expire');
    const limits = await this.planLimits(plan);
    const sub = await this.repo.setPlan(userId, plan, limits, expiresAt);
    if (!sub) throw new NotFoundError(`user ${userId} has no subscription`);
    this.logger.info({ userId, plan, expiresAt }, 'plan granted');
    return sub;
  }

  /** Revert ended paid plans to free, in batches. Returns the users that were moved and their former plan. */
  async expireDue(batchSize = 500): Promise<{ userId: number; plan: string }[]> {
    const free = await this.planLimits(FREE_PLAN);
    const moved: { userId: number; plan: string }[] = [];
    for (;;) {
      const ids = await this.repo.expireDue(free, batchSize);
      moved.push(...ids);
      if (ids.length < batchSize) break;
    }
    if (moved.length) this.logger.info({ count: moved.length }, 'paid plans expired');
    return moved;
  }

  /** Reset counters whose quota period ended, in batches. */
  async resetEndedPeriods(batchSize = 1_000): Promise<number> {
    const periodHours = await this.settings.get('quota.period_hours');
    let total = 0;
    for (;;) {
      const n = await this.repo.resetEndedPeriods(periodHours, batchSize);
      total += n;
      if (n < batchSize) break;
    }
    if (total) this.logger.info({ count: total }, 'quota periods reset');
    return total;
  }
}
