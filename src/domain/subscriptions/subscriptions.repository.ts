import { type QueryCreator, sql } from 'kysely';
import type { DB, Subscription } from '../../platform/db/schema.js';
import { CachedRowsRepository } from '../../platform/db/transactor.js';
import type { PlanLimits } from '../settings/settings.definitions.js';

/** How a quota take judges: the period length, and the free limits a paid plan falls to once it ended. */
export interface QuotaRule {
  periodHours: number;
  free: PlanLimits;
}

/** A statement built on a take: the CTE `take` holds the row after it, or nothing when it was refused. */
export type AfterTake = QueryCreator<DB & { take: Subscription }>;

/** Questions whose quota units go back: the `units` newest user messages of a dialog up to `upToId`. */
export interface RefundedQuestions {
  dialogId: number;
  upToId: number;
  units: number;
}

/**
 * The update that takes one message or image from the user's quota, or updates no row when none is
 * left. Messages and images share one period: when it has ended, both counters start over (the one
 * taken from at 1). A paid plan past its end date counts with the free limits.
 */
function takeOne(qc: QueryCreator<DB>, userId: number, rule: QuotaRule, counter: 'messages' | 'images') {
  const used = `${counter}_used` as const;
  const ended = sql<boolean>`(quota_period_start + make_interval(hours => ${rule.periodHours}) <= now())`;
  const limit = sql<number>`(case when expires_at <= now() then ${rule.free[`${counter}_limit`]} else ${sql.ref(`${counter}_limit`)} end)`;
  const next = (c: 'messages' | 'images') =>
    c === counter
      ? sql<number>`case when ${ended} then 1 else ${sql.ref(`${c}_used`)} + 1 end`
      : sql<number>`case when ${ended} then 0 else ${sql.ref(`${c}_used`)} end`;
  return qc
    .updateTable('subscriptions')
    .set({
      messages_used: next('messages'),
      images_used: next('images'),
      quota_period_start: sql`case when ${ended} then now() else quota_period_start end`,
      updated_at: sql`now()`,
    })
    .where('user_id', '=', userId)
    .where(limit, '>', 0)
    .where((eb) => eb.or([eb(used, '<', limit), ended]));
}

/** Subscription rows are cached by user id: every write goes through `write`. */
export class SubscriptionsRepository extends CachedRowsRepository {
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
   * Take one message from the quota and run `then` in the same statement, so both commit or neither
   * (chat intake stores the question with it). A period that has ended starts over first, and a paid
   * plan past its end date counts with the free limits, so the answer is right between runs of the
   * reset and expiry jobs. `take` is empty when the quota is used up.
   */
  takeMessageWith<T>(userId: number, rule: QuotaRule, then: (db: AfterTake) => Promise<T>): Promise<T> {
    const db = this.db.with('take', (qc) => takeOne(qc, userId, rule, 'messages').returningAll());
    return this.write(
      () => [userId],
      () => then(db as AfterTake),
    );
  }

  /**
   * One image from the plan's quota of the current period (the same rules as for messages). False
   * when none is left.
   */
  async takeImage(userId: number, rule: QuotaRule): Promise<boolean> {
    const row = await this.write(
      (r) => (r ? [userId] : []),
      () => takeOne(this.db, userId, rule, 'images').returning('id').executeTakeFirst(),
    );
    return row !== undefined;
  }

  /**
   * Give back the plan image of a recorded use (image_credit_uses), only into the period it was
   * taken from (a reset has given it back already).
   */
  async returnImage(useId: number): Promise<boolean> {
    const rows = await this.write(
      (r) => r.map((row) => row.user_id),
      async () =>
        (
          await sql<{ user_id: number }>`
            update subscriptions s
            set images_used = greatest(s.images_used - 1, 0), updated_at = now()
            from image_credit_uses u
            where u.id = ${useId} and s.user_id = u.user_id and s.quota_period_start = u.period_start
            returning s.user_id`.execute(this.db)
        ).rows,
    );
    return rows.length > 0;
  }

  /**
   * Give back the units of questions that got no answer: the `units` newest user messages of the
   * dialog up to `upToId`, each only when it was taken in the current period (its message was stored
   * in the statement of its take, so its created_at is the take's time; a unit of an earlier period
   * went back with that period's reset). Never goes below zero.
   */
  async refundQuestions(userId: number, q: RefundedQuestions): Promise<void> {
    await this.write(
      () => [userId],
      () =>
        // Correlated with s: a reset committed meanwhile is waited for and judged by its new period.
        sql`
          update subscriptions s
          set messages_used = greatest(s.messages_used - (
                select count(*) from (
                  select created_at from messages
                  where dialog_id = ${q.dialogId} and role = 'user' and id <= ${q.upToId}
                  order by id desc
                  limit ${q.units}
                ) asked
                where asked.created_at >= s.quota_period_start
              ), 0),
              updated_at = now()
          where s.user_id = ${userId}
        `.execute(this.db),
    );
  }

  resetUsage(userId: number): Promise<Subscription | undefined> {
    return this.write(
      () => [userId],
      () =>
        this.db
          .updateTable('subscriptions')
          .set({ messages_used: 0, images_used: 0, quota_period_start: sql`now()`, updated_at: sql`now()` })
          .where('user_id', '=', userId)
          .returningAll()
          .executeTakeFirst(),
    );
  }

  setPlan(
    userId: number,
    plan: string,
    limits: PlanLimits,
    expiresAt: Date | null,
  ): Promise<Subscription | undefined> {
    return this.write(
      () => [userId],
      () =>
        this.db
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
          .executeTakeFirst(),
    );
  }

  /** Reset counters of every subscription whose period ended, at most `limit` rows per call. */
  async resetEndedPeriods(periodHours: number, limit: number): Promise<number> {
    const rows = await this.write(
      (r) => r.map((row) => row.user_id),
      async () =>
        (
          await sql<{ user_id: number }>`
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
            returning s.user_id
          `.execute(this.db)
        ).rows,
    );
    return rows.length;
  }

  /**
   * Move paid plans past their end date back to free limits, at most `limit` per call.
   * Returns the affected users and their former plan so each can be told once.
   */
  async expireDue(freeLimits: PlanLimits, limit: number): Promise<{ userId: number; plan: string }[]> {
    const rows = await this.write(
      (r) => r.map((row) => row.user_id),
      async () =>
        (
          await sql<{ user_id: number; plan: string }>`
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
          `.execute(this.db)
        ).rows,
    );
    return rows.map((r) => ({ userId: r.user_id, plan: r.plan }));
  }
}
