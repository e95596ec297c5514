import { sql } from 'kysely';
import type { Db } from '../../platform/db/database.js';
import type { NewUser, User, UserUpdate } from '../../platform/db/schema.js';

export class UsersRepository {
  constructor(private readonly db: Db) {}

  findById(id: number): Promise<User | undefined> {
    return this.db.selectFrom('users').selectAll().where('id', '=', id).executeTakeFirst();
  }

  /** Insert unless the id exists. Returns the row only when this call created it. */
  insertIfAbsent(user: NewUser): Promise<User | undefined> {
    return this.db
      .insertInto('users')
      .values(user)
      .onConflict((oc) => oc.column('id').doNothing())
      .returningAll()
      .executeTakeFirst();
  }

  async update(id: number, patch: UserUpdate): Promise<User | undefined> {
    return this.db
      .updateTable('users')
      .set({ ...patch, updated_at: sql`now()` })
      .where('id', '=', id)
      .returningAll()
      .executeTakeFirst();
  }

  /** Record activity, refresh the profile and clear `bot_blocked_at` (a message proves they are back). */
  async touch(id: number, profile: Pick<User, 'username' | 'first_name' | 'last_name' | 'language_code'>) {
    await this.db
      .updateTable('users')
      .set({ ...profile, last_active_at: sql`now()`, bot_blocked_at: null, updated_at: sql`now()` })
      .where('id', '=', id)
      .execute();
  }

  async markBotBlocked(id: number): Promise<boolean> {
    const res = await this.db
      .updateTable('users')
      .set({ bot_blocked_at: sql`now()` })
      .where('id', '=', id)
      .where('bot_blocked_at', 'is', null)
      .executeTakeFirst();
    return Number(res.numUpdatedRows) > 0;
  }
}
