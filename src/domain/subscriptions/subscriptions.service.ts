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

/** What a paid grant of a plan replaced and added: what reverting it needs. */
export interface PlanGrant {
  plan: string;
  before: { plan: string; expires_at: string | null; messages_limit: number; images_limit: number };
  /** The end the grant set. */
  expiresAt: string;
  /** The time it added to the plan. */
  addedMs: number;
}

/** How a paid grant extends the plan: by `addMs` from the current end, or to `endIfIdle` when none runs. */
export interface PlanExtension {
  addMs: number;
  /** The end to set when no paid plan is running (e.g. Telegram's subscription_expiration_date). */
  endIfIdle?: Date;
}

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

  /** Atomically take one image from the plan's quota of the current period; false when none is left. */
  async takePlanImage(userId: number): Promise<boolean> {
    return this.repo.takeImage(userId, await this.settings.get('quota.period_hours'));
  }

  /** Give back the plan image a recorded use took (ImageCreditsService keeps the uses). */
  returnPlanImage(useId: number): Promise<boolean> {
    return this.repo.returnImage(useId);
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

  /**
   * A paid grant of `plan` (a purchase or a subscription period), in the caller's transaction: the
   * plan runs until the current paid end plus `addMs` (so time bought earlier is never lost), or
   * from now when no paid plan runs. Returns what it replaced, for revertPlanGrant.
   */
  async extendPlan(userId: number, plan: string, ext: PlanExtension): Promise<PlanGrant> {
    if (plan === FREE_PLAN) throw new ValidationError('the free plan is not sold');
    const limits = await this.planLimits(plan);
    const before = await this.getForUpdate(userId);
    const now = Date.now();
    const running = before.plan !== FREE_PLAN && before.expires_at && before.expires_at.getTime() > now;
    const from = running ? before.expires_at!.getTime() : now;
    const end = running ? from + ext.addMs : (ext.endIfIdle?.getTime() ?? now + ext.addMs);
    await this.repo.setPlan(userId, plan, limits, new Date(end));
    this.logger.info({ userId, plan, expiresAt: new Date(end), extended: running }, 'paid plan granted');
    return {
      plan,
      before: {
        plan: before.plan,
        expires_at: before.expires_at?.toISOString() ?? null,
        messages_limit: before.messages_limit,
        images_limit: before.images_limit,
      },
      expiresAt: new Date(end).toISOString(),
      addedMs: end - from,
    };
  }

  /**
   * Take back a grant made by extendPlan, in the caller's transaction. When nothing changed the plan
   * since, it goes back exactly to what the grant replaced (or to free when that has ended
   * meanwhile); when later grants stacked on it, only the time this one added is removed. A plan
   * changed to another one since (by an admin) is left alone. Returns what happened.
   */
  async revertPlanGrant(userId: number, grant: PlanGrant): Promise<'restored' | 'shortened' | 'untouched'> {
    const sub = await this.getForUpdate(userId);
    const now = Date.now();
    if (sub.plan !== grant.plan || !sub.expires_at) {
      this.logger.warn({ userId, grant, plan: sub.plan }, 'plan changed since the grant; nothing to revert');
      return 'untouched';
    }
    const free = await this.planLimits(FREE_PLAN);
    if (sub.expires_at.toISOString() === grant.expiresAt) {
      const b = grant.before;
      const ended = b.expires_at !== null && Date.parse(b.expires_at) <= now;
      if (b.plan === FREE_PLAN || ended) await this.repo.setPlan(userId, FREE_PLAN, free, null);
      else
        await this.repo.setPlan(
          userId,
          b.plan,
          { messages_limit: b.messages_limit, images_limit: b.images_limit },
          b.expires_at === null ? null : new Date(b.expires_at),
        );
      this.logger.info({ userId, plan: grant.plan, restored: b.plan }, 'paid plan grant reverted');
      return 'restored';
    }
    const end = sub.expires_at.getTime() - grant.addedMs;
    if (end <= now) await this.repo.setPlan(userId, FREE_PLAN, free, null);
    else {
      const limits = { messages_limit: sub.messages_limit, images_limit: sub.images_limit };
      await this.repo.setPlan(userId, sub.plan, limits, new Date(end));
    }
    this.logger.info({ userId, plan: grant.plan, expiresAt: new Date(end) }, 'paid plan grant shortened');
    return 'shortened';
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
