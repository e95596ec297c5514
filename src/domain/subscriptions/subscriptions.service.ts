import type { Subscription } from '../../platform/db/schema.js';
import { NotFoundError, ValidationError } from '../../platform/errors.js';
import type { Logger } from '../../platform/logger.js';
import type { RowCache } from '../../platform/row-cache.js';
import type { PlanLimits } from '../settings/settings.definitions.js';
import type { SettingsService } from '../settings/settings.service.js';
import type {
  AfterTake,
  QuotaRule,
  RefundedQuestions,
  SubscriptionsRepository,
} from './subscriptions.repository.js';

export type { AfterTake, QuotaRule };

export const FREE_PLAN = 'free';

/** A cached row is kept at most this long, and never past its plan's end or its quota period's. */
const CACHE_TTL_MS = 3_600_000;
const HOUR_MS = 3_600_000;

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

/**
 * How long a row may be served from the cache: an hour, but never past the next moment its meaning
 * changes by itself — the plan's end or the quota period's. Moments already past change nothing
 * until a job writes the row, and that write drops it from every cache.
 */
export function cacheLifetimeMs(sub: Subscription, now: number, periodHours: number): number {
  let ttl = CACHE_TTL_MS;
  for (const moment of [
    sub.expires_at?.getTime(),
    sub.quota_period_start.getTime() + periodHours * HOUR_MS,
  ]) {
    if (moment !== undefined && moment > now) ttl = Math.min(ttl, moment - now);
  }
  return ttl;
}

/**
 * The subscription as it counts now: a paid plan past its end date is the free plan, even before
 * the expiry job has moved it back (the quota take in SQL judges the same way).
 */
export function effectiveSubscription(sub: Subscription, free: PlanLimits, now: number): Subscription {
  if (!sub.expires_at || sub.expires_at.getTime() > now) return sub;
  return { ...sub, plan: FREE_PLAN, expires_at: null, ...free };
}

/** What a paid grant of a plan replaced and added: what reverting it needs. */
export interface PlanGrant {
  plan: string;
  before: { plan: string; expires_at: string | null; messages_limit: number; images_limit: number };
  /** The end the grant set; null when a plan with no end was running, which it left as it was. */
  expiresAt: string | null;
  /** The time it added to the plan. */
  addedMs: number;
}

/** How a paid grant extends the plan: by `addMs` from the current end, or to `endIfIdle` when none runs. */
export interface PlanExtension {
  addMs: number;
  /** The end to set when no paid plan is running (e.g. Telegram's subscription_expiration_date). */
  endIfIdle?: Date;
}

/** A paid plan an admin granted with no end date: selling time on top of it would only shorten it. */
export function hasEndlessPlan(sub: Pick<Subscription, 'plan' | 'expires_at'>): boolean {
  return sub.plan !== FREE_PLAN && sub.expires_at === null;
}

export class SubscriptionsService {
  constructor(
    private readonly repo: SubscriptionsRepository,
    private readonly settings: SettingsService,
    /** Filled by reads on the update path; the repository drops rows as their writes commit. */
    private readonly cache: RowCache<Subscription>,
    private readonly logger: Logger,
  ) {}

  /** What quota takes judge by (read from the settings cache). */
  async quotaRule(): Promise<QuotaRule> {
    const [periodHours, plans] = await Promise.all([
      this.settings.get('quota.period_hours'),
      this.settings.get('plans'),
    ]);
    const free = plans[FREE_PLAN];
    if (!free) throw new ValidationError('the plans setting has no free plan');
    return { periodHours, free };
  }

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

  /**
   * The numbers /status shows, from the cache (a warm read costs no query): a period that has ended
   * shows as reset, and a plan past its end date as the free plan.
   */
  async quota(userId: number): Promise<QuotaView> {
    const rule = await this.quotaRule();
    const row = await this.cache.get(
      userId,
      () => this.repo.findByUserId(userId),
      (r, now) => cacheLifetimeMs(r, now, rule.periodHours),
    );
    if (!row) throw new NotFoundError(`user ${userId} has no subscription`);
    const now = Date.now();
    const sub = effectiveSubscription(row, rule.free, now);
    const periodMs = rule.periodHours * HOUR_MS;
    const ended = sub.quota_period_start.getTime() + periodMs <= now;
    return {
      plan: sub.plan,
      expiresAt: sub.expires_at,
      messagesUsed: ended ? 0 : sub.messages_used,
      messagesLimit: sub.messages_limit,
      imagesUsed: ended ? 0 : sub.images_used,
      imagesLimit: sub.images_limit,
      resetsAt: new Date((ended ? now : sub.quota_period_start.getTime()) + periodMs),
    };
  }

  /** Atomically take one message from the user's quota. */
  takeMessage(userId: number): Promise<TakeResult> {
    return this.takeMessageWith(userId, async (db) => {
      const sub = await db.selectFrom('take').selectAll().executeTakeFirst();
      return sub ? { ok: true, subscription: sub } : this.refusal(userId);
    });
  }

  /**
   * Take one message and run `then` in the same statement (see SubscriptionsRepository): both
   * commit or neither. The quota is SQL's to decide, never the cache's.
   */
  async takeMessageWith<T>(userId: number, then: (db: AfterTake) => Promise<T>): Promise<T> {
    return this.repo.takeMessageWith(userId, await this.quotaRule(), then);
  }

  /** Why a take was refused: when the quota comes back (null: the plan has no messages at all). */
  async refusal(userId: number): Promise<{ ok: false; resetsAt: Date | null }> {
    const [row, rule] = await Promise.all([this.repo.findByUserId(userId), this.quotaRule()]);
    const sub = row && effectiveSubscription(row, rule.free, Date.now());
    const resetsAt =
      sub && sub.messages_limit > 0
        ? new Date(sub.quota_period_start.getTime() + rule.periodHours * HOUR_MS)
        : null;
    return { ok: false, resetsAt };
  }

  /** Atomically take one image from the plan's quota of the current period; false when none is left. */
  async takePlanImage(userId: number): Promise<boolean> {
    return this.repo.takeImage(userId, await this.quotaRule());
  }

  /** Give back the plan image a recorded use took (ImageCreditsService keeps the uses). */
  returnPlanImage(useId: number): Promise<boolean> {
    return this.repo.returnImage(useId);
  }

  /** Give back the quota units of questions that got no answer, into the period they were taken in. */
  refundQuestions(userId: number, questions: RefundedQuestions): Promise<void> {
    return this.repo.refundQuestions(userId, questions);
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
    const was = {
      plan: before.plan,
      expires_at: before.expires_at?.toISOString() ?? null,
      messages_limit: before.messages_limit,
      images_limit: before.images_limit,
    };
    // Checkout refuses to sell time to a user whose paid plan has no end; a payment that got past it
    // (an admin granted the endless plan after the invoice was opened) must not turn it into N days.
    if (hasEndlessPlan(before)) {
      this.logger.warn({ userId, plan, kept: before.plan }, 'paid grant on a plan with no end; plan kept');
      return { plan, before: was, expiresAt: null, addedMs: 0 };
    }
    const now = Date.now();
    const running = before.plan !== FREE_PLAN && before.expires_at && before.expires_at.getTime() > now;
    const from = running ? before.expires_at!.getTime() : now;
    const end = running ? from + ext.addMs : (ext.endIfIdle?.getTime() ?? now + ext.addMs);
    await this.repo.setPlan(userId, plan, limits, new Date(end));
    this.logger.info({ userId, plan, expiresAt: new Date(end), extended: running }, 'paid plan granted');
    return {
      plan,
      before: was,
      expiresAt: new Date(end).toISOString(),
      addedMs: end - from,
    };
  }

  /**
   * Take back a grant made by extendPlan, in the caller's transaction. A grant whose time has run
   * out was used: nothing to take back (the plan running now was paid for apart). When nothing
   * changed the plan since, it goes back exactly to what the grant replaced (or to free when that has
   * ended meanwhile); when later grants stacked on it, only the unused part of this one is removed. A
   * plan changed to another one since (by an admin) is left alone. Returns what happened.
   */
  async revertPlanGrant(
    userId: number,
    grant: PlanGrant,
  ): Promise<'restored' | 'shortened' | 'used' | 'untouched'> {
    const sub = await this.getForUpdate(userId);
    const now = Date.now();
    const grantEnd = grant.expiresAt === null ? null : Date.parse(grant.expiresAt);
    if (grantEnd === null || grantEnd <= now) {
      this.logger.info({ userId, grant }, 'plan grant already used up (or added nothing); nothing to revert');
      return 'used';
    }
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
    // Of the grant's window [grantEnd - addedMs, grantEnd], only what lies ahead is taken back.
    const end = sub.expires_at.getTime() - Math.min(grant.addedMs, grantEnd - now);
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
