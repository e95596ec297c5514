import { sql } from 'kysely';
import type { Subscription } from '../../platform/db/schema.js';
import { Repository } from '../../platform/db/transactor.js';
import type { PlanLimits } from '../settings/settings.definitions.js';

export class SubscriptionsRepository extends Repository {
  findByUserId(userId: number): Promise<Subscription | undefined> {
    return this.db.selectFrom('subscriptions').selectAll().where('user_id', '=', userId).executeTakeFirst();
  }

  /** The row, locked until the transaction ends. */
  findByUserIdForUpdate(userId: number): Promise<Subscription | undefined> {
    return this.db
      .selectFrom('subscriptions')
      .selectAll()
      .where('user_id', '=', userId)
      .forUpdate()
      .executeTakeFirst();
  }

  /**
   * Take one message from the quota in a single statement. A period that has ended starts over
   * first, so the answer is right even between runs of the reset job. Undefined when exhausted.
   */
  takeMessage(userId: number, periodHours: number): Promise<Subscription | undefined> {
    const ended = sql<boolean>`(quota_period_start + make_interval(hours => ${periodHours}) <= now())`;
    return this.db
      .updateTable('subscriptions')
      .set({
        messages_used: sql`case when ${ended} then 1 else messages_used + 1 end`,
        images_used: sql`case when ${ended} then 0 else images_used end`,
        quota_period_start: sql`case when ${ended} then now() else quota_period_start end`,
        updated_at: sql`now()`,
      })
      .where('user_id', '=', userId)
      .where((eb) => eb.or([eb('messages_used', '<', eb.ref('messages_limit')), ended]))
      .where((eb) => eb('messages_limit', '>', 0))
      .returningAll()
      .executeTakeFirst();
  }

  /**
   * One image from the plan's quota of the current period; a period that has ended starts over
   * first (as for messages). False when none is left.
   */
  async takeImage(userId: number, periodHours: number): Promise<boolean> {
    const ended = sql<boolean>`(quota_period_start + make_interval(hours => ${periodHours}) <= now())`;
    const row = await this.db
      .updateTable('subscriptions')
      .set({
        images_used: sql`case when ${ended} then 1 else images_used + 1 end`,
        messages_used: sql`case when ${ended} then 0 else messages_used end`,
        quota_period_start: sql`case when ${ended} then now() else quota_period_start end`,
        updated_at: sql`now()`,
      })
      .where('user_id', '=', userId)
      .where('images_limit', '>', 0)
      .where((eb) => eb.or([eb('images_used', '<', eb.ref('images_limit')), ended]))
      .returning('id')
      .executeTakeFirst();
    return row !== undefined;
  }

  /**
   * Give back the plan image of a recorded use (image_credit_uses), only into the period it was
   * taken from (a reset has given it back already).
   */
  async returnImage(useId: number): Promise<boolean> {
    const res = await sql`
      update subscriptions s
      set images_used = greatest(s.images_used - 1, 0), updated_at = now()
      from image_credit_uses u
      where u.id = ${useId} and s.user_id = u.user_id and s.quota_period_start = u.period_start`.execute(
      this.db,
    );
    return Number(res.numAffectedRows ?? 0) > 0;
  }

  /** Give one message back (a generation failed). Never goes below zero. */
  async refundMessages(userId: number, count: number): Promise<void> {
    await this.db
      .updateTable('subscriptions')
      .set({ messages_used: sql`greatest(messages_used - ${count}, 0)`, updated_at: sql`now()` })
      .where('user_id', '=', userId)
      .execute();
  }

  async resetUsage(userId: number): Promise<Subscription | undefined> {
    return this.db
      .updateTable('subscriptions')
      .set({ messages_used: 0, images_used: 0, quota_period_start: sql`now()`, updated_at: sql`now()` })
      .where('user_id', '=', userId)
      .returningAll()
      .executeTakeFirst();
  }

  async setPlan(
    userId: number,
    plan: string,
    limits: PlanLimits,
    expiresAt: Date | null,
  ): Promise<Subscription | undefined> {
    return this.db
      .updateTable('subscriptions')
      .set({
        plan,
        ...limits,
        status: 'active',
        started_at: sql`now()`,
        expires_at: expiresAt,
        updated_at: sql`now()`,
      })
      .where('user_id', '=', userId)
      .returningAll()
      .executeTakeFirst();
  }

  /** Reset counters of every subscription whose period ended, at most `limit` rows per call. */
  async resetEndedPeriods(periodHours: number, limit: number): Promise<number> {
    const res = await sql<{ n: number }>`
      with due as (
        select id from subscriptions
        where quota_period_start + make_interval(hours => ${periodHours}) <= now()
          and (messages_used > 0 or images_used > 0)
        order by id
        limit ${limit}
        for update skip locked
      )
      update subscriptions s
      set messages_used = 0, images_used = 0, quota_period_start = now(), updated_at = now()
      from due where s.id = due.id
    `.execute(this.db);
    return Number(res.numAffectedRows ?? 0);
  }

  /**
   * Move paid plans past their end date back to free limits, at most `limit` per call.
   * Returns the affected users and their former plan so each can be told once.
   */
  async expireDue(freeLimits: PlanLimits, limit: number): Promise<{ userId: number; plan: string }[]> {
    const rows = await sql<{ user_id: number; plan: string }>`
      with due as (
        select id, plan from subscriptions
        where expires_at is not null and expires_at <= now() and plan <> 'free'
        order by expires_at
        limit ${limit}
        for update skip locked
      )
      update subscriptions s
      set plan = 'free', status = 'active', expires_at = null, started_at = now(),
          messages_limit = ${freeLimits.messages_limit}, images_limit = ${freeLimits.images_limit},
          updated_at = now()
      from due where s.id = due.id
      returning s.user_id, due.plan
    `.execute(this.db);
    return rows.rows.map((r) => ({ userId: r.user_id, plan: r.plan }));
  }
}
