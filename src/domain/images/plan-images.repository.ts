import { sql } from 'kysely';
import { Repository } from '../../platform/db/transactor.js';

/** The plan's image counters on the subscription row (until purchased packs join them). */
export class PlanImagesRepository extends Repository {
  /**
   * Take one image in a single statement; a period that has ended starts over first (as for
   * messages). Returns the start of the period the unit belongs to as Postgres writes it (exact to
   * the microsecond, which a Date is not), undefined when none is left.
   */
  async take(userId: number, periodHours: number): Promise<string | undefined> {
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
      .where((eb) => eb.or([eb('images_used', '<', eb.ref('images_limit')), ended]))
      .where('images_limit', '>', 0)
      .returning(sql<string>`quota_period_start::text`.as('period'))
      .executeTakeFirst();
    return row?.period;
  }

  /** One image back, only into the period it was taken from; never below zero. */
  async giveBack(userId: number, periodStart: string): Promise<void> {
    await this.db
      .updateTable('subscriptions')
      .set({ images_used: sql`greatest(images_used - 1, 0)`, updated_at: sql`now()` })
      .where('user_id', '=', userId)
      .where('quota_period_start', '=', sql<Date>`${periodStart}::timestamptz`)
      .execute();
  }

  async resetsAt(userId: number, periodHours: number): Promise<Date | null> {
    const row = await this.db
      .selectFrom('subscriptions')
      .select(['images_limit', 'quota_period_start'])
      .where('user_id', '=', userId)
      .executeTakeFirst();
    if (!row || row.images_limit === 0) return null;
    return new Date(row.quota_period_start.getTime() + periodHours * 3_600_000);
  }
}
