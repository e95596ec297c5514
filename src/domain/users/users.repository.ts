import { sql } from 'kysely';
import type { Db } from '../../platform/db/database.js';
import type { NewUser, User, UserUpdate } from '../../platform/db/schema.js';
import { CachedRowsRepository } from '../../platform/db/transactor.js';
import { AppError } from '../../platform/errors.js';
import type { PlanLimits } from '../settings/settings.definitions.js';

/** The search ran past its time limit: the filters match too few rows to find a page quickly. */
export class SearchTooSlowError extends AppError {
  override name = 'SearchTooSlowError';
  override readonly status = 422;
  override readonly code = 'search_too_slow';
  constructor(timeoutMs: number, options?: { cause?: unknown }) {
    super(
      `The search took longer than ${timeoutMs / 1000} s; narrow it down (a longer name, fewer filters).`,
      { timeoutMs },
      options,
    );
  }
}

export type UserStatus = 'active' | 'banned' | 'blocked';

export interface UserSearch {
  /** A Telegram id, or a fragment of the username or name (a leading @ is ignored). */
  query?: string | undefined;
  plan?: string | undefined;
  /** active: neither banned nor blocked the bot; blocked: the user blocked the bot. */
  status?: UserStatus | undefined;
  /** Keyset cursor: only ids below it. */
  beforeId?: number | undefined;
  limit: number;
}

export type UserListItem = User & { plan: string | null; plan_expires_at: Date | null };

/** User rows are cached by id: every write goes through `write`. */
export class UsersRepository extends CachedRowsRepository {
  findById(id: number): Promise<User | undefined> {
    return this.db.selectFrom('users').selectAll().where('id', '=', id).executeTakeFirst();
  }

  /**
   * Insert the user with their first subscription in one statement, unless the id exists (then
   * neither is written). Returns the row only when this call created it. (The first subscription row
   * needs no announcement: nothing can be cached for a user who did not exist.)
   */
  insertWithSubscription(user: NewUser, plan: string, limits: PlanLimits): Promise<User | undefined> {
    return this.db
      .with('u', (db) =>
        db
          .insertInto('users')
          .values(user)
          .onConflict((oc) => oc.column('id').doNothing())
          .returningAll(),
      )
      .with('s', (db) =>
        db
          .insertInto('subscriptions')
          .columns(['user_id', 'plan', 'messages_limit', 'images_limit'])
          .expression((eb) =>
            eb
              .selectFrom('u')
              .select([
                'u.id',
                sql.val(plan).as('plan'),
                sql.val(limits.messages_limit).as('messages_limit'),
                sql.val(limits.images_limit).as('images_limit'),
              ]),
          )
          .onConflict((oc) => oc.column('user_id').doNothing()),
      )
      .selectFrom('u')
      .selectAll()
      .executeTakeFirst();
  }

  update(id: number, patch: UserUpdate): Promise<User | undefined> {
    return this.write(
      () => [id],
      () =>
        this.db
          .updateTable('users')
          .set({ ...patch, updated_at: sql`now()` })
          .where('id', '=', id)
          .returningAll()
          .executeTakeFirst(),
    );
  }

  /** Record activity, refresh the profile and clear `bot_blocked_at` (a message proves they are back). */
  async touch(id: number, profile: Pick<User, 'username' | 'first_name' | 'last_name' | 'language_code'>) {
    await this.write(
      () => [id],
      () =>
        this.db
          .updateTable('users')
          .set({ ...profile, last_active_at: sql`now()`, bot_blocked_at: null, updated_at: sql`now()` })
          .where('id', '=', id)
          .execute(),
    );
  }

  findForUpdate(id: number): Promise<User | undefined> {
    return this.db.selectFrom('users').selectAll().where('id', '=', id).forUpdate().executeTakeFirst();
  }

  /**
   * Admin search, newest first, keyset-paginated by id. A numeric query is an id lookup; text
   * matches username and names through the trigram index `ix_users_search` (its exact expression).
   * A filter combination that matches (almost) nobody can make Postgres walk the whole table, so the
   * query gets `timeoutMs` and then fails with SearchTooSlowError.
   */
  async search(f: UserSearch, timeoutMs = 5_000): Promise<UserListItem[]> {
    const run = (db: Db) => {
      let q = db
        .selectFrom('users as u')
        .leftJoin('subscriptions as s', 's.user_id', 'u.id')
        .selectAll('u')
        .select(['s.plan as plan', 's.expires_at as plan_expires_at'])
        .orderBy('u.id', 'desc')
        .limit(f.limit);
      if (f.beforeId !== undefined) q = q.where('u.id', '<', f.beforeId);
      if (f.plan) {
        q = q.where('s.plan', '=', f.plan);
        // The same bound on the join's other side lets both index scans start at the cursor.
        if (f.beforeId !== undefined) q = q.where('s.user_id', '<', f.beforeId);
      }
      if (f.status === 'banned') q = q.where('u.banned_at', 'is not', null);
      else if (f.status === 'blocked') q = q.where('u.bot_blocked_at', 'is not', null);
      else if (f.status === 'active')
        q = q.where('u.banned_at', 'is', null).where('u.bot_blocked_at', 'is', null);
      const text = f.query?.trim().replace(/^@/, '') ?? '';
      if (/^\d{1,16}$/.test(text)) q = q.where('u.id', '=', Number(text));
      else if (text) {
        const pattern = `%${text.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
        q = q.where(
          sql<boolean>`(coalesce(u.username, '') || ' ' || u.first_name || ' ' || coalesce(u.last_name, '')) ilike ${pattern}`,
        );
      }
      return q.execute();
    };
    // The time limit is local to a transaction of its own; inside a caller's it would outlive the search.
    if (this.inTransaction) return run(this.db);
    try {
      return await this.atomically(async () => {
        await sql`select set_config('statement_timeout', ${String(timeoutMs)}, true)`.execute(this.db);
        return run(this.db);
      });
    } catch (err) {
      if ((err as { code?: unknown }).code === '57014')
        throw new SearchTooSlowError(timeoutMs, { cause: err });
      throw err;
    }
  }

  async markBotBlocked(id: number): Promise<boolean> {
    const res = await this.write(
      () => [id],
      () =>
        this.db
          .updateTable('users')
          .set({ bot_blocked_at: sql`now()` })
          .where('id', '=', id)
          .where('bot_blocked_at', 'is', null)
          .executeTakeFirst(),
    );
    return Number(res.numUpdatedRows) > 0;
  }
}
