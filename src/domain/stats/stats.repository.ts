import { sql } from 'kysely';
import { Repository } from '../../platform/db/transactor.js';

export interface DayCount {
  /** YYYY-MM-DD (UTC). */
  day: string;
  count: number;
}

export interface UserUsage {
  dialogs: number;
  messages: number;
  lastMessageAt: Date | null;
}

const n = (v: unknown) => Number(v ?? 0);

/**
 * Aggregates for the dashboard. Range counts go through the created_at / last_active_at indexes;
 * banned and blocked users through their partial indexes (migration 0005); results are cached above.
 */
export class StatsRepository extends Repository {
  async userTotals(): Promise<{ total: number; blocked: number; banned: number }> {
    const r = await sql<{ total: string; blocked: string; banned: string }>`
      select (select count(*) from users) as total,
             (select count(*) from users where bot_blocked_at is not null) as blocked,
             (select count(*) from users where banned_at is not null) as banned`.execute(this.db);
    const row = r.rows[0];
    return { total: n(row?.total), blocked: n(row?.blocked), banned: n(row?.banned) };
  }

  usersCreatedSince(since: Date): Promise<number> {
    return this.usersSince('created_at', since);
  }

  usersActiveSince(since: Date): Promise<number> {
    return this.usersSince('last_active_at', since);
  }

  /** Both columns are indexed, so each count is a range scan. */
  private async usersSince(column: 'created_at' | 'last_active_at', since: Date): Promise<number> {
    const r = await this.db
      .selectFrom('users')
      .select((eb) => eb.fn.countAll().as('n'))
      .where(column, '>=', since)
      .executeTakeFirstOrThrow();
    return n(r.n);
  }

  /** Messages users sent (not the bot's answers). */
  async userMessagesSince(since: Date): Promise<number> {
    const r = await this.db
      .selectFrom('messages')
      .select((eb) => eb.fn.countAll().as('n'))
      .where('created_at', '>=', since)
      .where('role', '=', 'user')
      .executeTakeFirstOrThrow();
    return n(r.n);
  }

  async planDistribution(): Promise<{ plan: string; count: number }[]> {
    const rows = await this.db
      .selectFrom('subscriptions')
      .select(['plan', (eb) => eb.fn.countAll().as('n')])
      .groupBy('plan')
      .orderBy('n', 'desc')
      .execute();
    return rows.map((r) => ({ plan: r.plan, count: n(r.n) }));
  }

  // Grouped by a date (cheap), formatted once per day; to_char on every row costs more than the scan.
  async newUsersPerDay(since: Date): Promise<DayCount[]> {
    const r = await sql<{ day: string; n: string }>`
      select to_char(d, 'YYYY-MM-DD') as day, n from (
        select (created_at at time zone 'UTC')::date as d, count(*) as n
        from users where created_at >= ${since} group by 1
      ) x order by d`.execute(this.db);
    return r.rows.map((x) => ({ day: x.day, count: n(x.n) }));
  }

  async userMessagesPerDay(since: Date, until?: Date): Promise<DayCount[]> {
    const r = await sql<{ day: string; n: string }>`
      select to_char(d, 'YYYY-MM-DD') as day, n from (
        select (created_at at time zone 'UTC')::date as d, count(*) as n
        from messages
        where created_at >= ${since} and role = 'user' ${until ? sql`and created_at < ${until}` : sql``}
        group by 1
      ) x order by d`.execute(this.db);
    return r.rows.map((x) => ({ day: x.day, count: n(x.n) }));
  }

  async userUsage(userId: number): Promise<UserUsage> {
    const r = await sql<{ dialogs: string; messages: string; last: Date | null }>`
      select (select count(*) from dialogs where user_id = ${userId}) as dialogs,
             count(m.id) as messages,
             max(m.created_at) as last
      from dialogs d join messages m on m.dialog_id = d.id and m.role = 'user'
      where d.user_id = ${userId}`.execute(this.db);
    const row = r.rows[0];
    return {
      dialogs: n(row?.dialogs),
      messages: n(row?.messages),
      lastMessageAt: row?.last ? new Date(row.last) : null,
    };
  }
}
