import { sql } from 'kysely';
import { Repository } from '../../platform/db/transactor.js';

export const RETENTION_KIND = 'retention';

export type LogStatus = 'sending' | 'sent' | 'blocked' | 'failed';

export interface DueReminder {
  userId: number;
  /** The stage's `days`, which is also its identity in notification_log. */
  stage: number;
}

export class RetentionRepository extends Repository {
  /**
   * Users who may get a reminder now, keyset-paginated by id: not banned, not bot-blocked,
   * notifications on, with the highest stage their inactivity reached — only when that stage was
   * never logged for them (a user 10 days away gets the 7-day reminder, not the 1- and 3-day ones).
   */
  async due(stageDays: readonly number[], afterId: number, limit: number): Promise<DueReminder[]> {
    if (stageDays.length === 0) return [];
    const days = [...stageDays].map((d) => Math.trunc(d));
    const minDays = Math.min(...days);
    const { rows } = await sql<{ user_id: number; stage: number }>`
      select u.id as user_id, st.days as stage
      from users u
      cross join lateral (
        select max(d) as days
        from unnest(${days}::int[]) as d
        where u.last_active_at <= now() - make_interval(days => d)
      ) st
      where u.banned_at is null
        and u.bot_blocked_at is null
        and u.notifications_enabled
        and u.last_active_at <= now() - make_interval(days => ${minDays}::int)
        and u.id > ${afterId}::bigint
        and st.days is not null
        and not exists (
          select 1 from notification_log n
          where n.user_id = u.id and n.kind = ${RETENTION_KIND} and n.stage = st.days
        )
      order by u.id
      limit ${limit}::int
    `.execute(this.db);
    return rows.map((r) => ({ userId: Number(r.user_id), stage: Number(r.stage) }));
  }

  /** The "at most once" guard: true only for the call that created the row. */
  async insertLog(userId: number, stage: number): Promise<boolean> {
    const row = await this.db
      .insertInto('notification_log')
      .values({ user_id: userId, kind: RETENTION_KIND, stage, status: 'sending' })
      .onConflict((oc) => oc.columns(['user_id', 'kind', 'stage']).doNothing())
      .returning('id')
      .executeTakeFirst();
    return row !== undefined;
  }

  async setStatus(userId: number, stage: number, status: LogStatus): Promise<void> {
    await this.db
      .updateTable('notification_log')
      .set({ status, updated_at: sql`now()` })
      .where('user_id', '=', userId)
      .where('kind', '=', RETENTION_KIND)
      .where('stage', '=', stage)
      .where('status', '=', 'sending')
      .execute();
  }

  /** Forget an attempt that did not reach Telegram, so a later one may send the stage. */
  async deleteLog(userId: number, stage: number): Promise<void> {
    await this.db
      .deleteFrom('notification_log')
      .where('user_id', '=', userId)
      .where('kind', '=', RETENTION_KIND)
      .where('stage', '=', stage)
      .where('status', '=', 'sending')
      .execute();
  }
}
