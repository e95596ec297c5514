import { sql } from 'kysely';
import type { AdminRole, AdminSession, AdminUser } from '../../platform/db/schema.js';
import { Repository } from '../../platform/db/transactor.js';

export interface NewAdmin {
  username: string;
  passwordHash: string;
  role: AdminRole;
  telegramUserId?: number | null;
}

export interface AdminPatch {
  role?: AdminRole;
  passwordHash?: string;
  telegramUserId?: number | null;
  disabled?: boolean;
}

/** A session joined with its account, as the auth check needs it. */
export interface SessionRow {
  session: AdminSession;
  admin: AdminUser;
}

/** Admin accounts and their sessions. */
export class AdminRepository extends Repository {
  async count(): Promise<number> {
    const row = await this.db
      .selectFrom('admin_users')
      .select((eb) => eb.fn.countAll<number>().as('n'))
      .executeTakeFirstOrThrow();
    return Number(row.n);
  }

  findById(id: number): Promise<AdminUser | undefined> {
    return this.db.selectFrom('admin_users').selectAll().where('id', '=', id).executeTakeFirst();
  }

  findForUpdate(id: number): Promise<AdminUser | undefined> {
    return this.db.selectFrom('admin_users').selectAll().where('id', '=', id).forUpdate().executeTakeFirst();
  }

  findByUsername(username: string): Promise<AdminUser | undefined> {
    return this.db
      .selectFrom('admin_users')
      .selectAll()
      .where('username', '=', username.toLowerCase())
      .executeTakeFirst();
  }

  list(): Promise<AdminUser[]> {
    return this.db.selectFrom('admin_users').selectAll().orderBy('id').execute();
  }

  /** Undefined when the username is taken. */
  insert(a: NewAdmin): Promise<AdminUser | undefined> {
    return this.db
      .insertInto('admin_users')
      .values({
        username: a.username.toLowerCase(),
        password_hash: a.passwordHash,
        role: a.role,
        telegram_user_id: a.telegramUserId ?? null,
      })
      .onConflict((oc) => oc.column('username').doNothing())
      .returningAll()
      .executeTakeFirst();
  }

  /** Insert only while no account exists at all: concurrent first starts create one owner. */
  async insertFirst(a: NewAdmin): Promise<AdminUser | undefined> {
    const res = await sql<AdminUser>`
      insert into admin_users (username, password_hash, role)
      select ${a.username.toLowerCase()}, ${a.passwordHash}, ${a.role}
      where not exists (select 1 from admin_users)
      on conflict (username) do nothing
      returning *`.execute(this.db);
    return res.rows[0];
  }

  update(id: number, patch: AdminPatch): Promise<AdminUser | undefined> {
    return this.db
      .updateTable('admin_users')
      .set({
        ...(patch.role ? { role: patch.role } : {}),
        ...(patch.passwordHash ? { password_hash: patch.passwordHash } : {}),
        ...(patch.telegramUserId !== undefined ? { telegram_user_id: patch.telegramUserId } : {}),
        ...(patch.disabled !== undefined ? { disabled_at: patch.disabled ? sql`now()` : null } : {}),
        updated_at: sql`now()`,
      })
      .where('id', '=', id)
      .returningAll()
      .executeTakeFirst();
  }

  async countActiveOwners(): Promise<number> {
    const row = await this.db
      .selectFrom('admin_users')
      .select((eb) => eb.fn.countAll<number>().as('n'))
      .where('role', '=', 'owner')
      .where('disabled_at', 'is', null)
      .executeTakeFirstOrThrow();
    return Number(row.n);
  }

  /**
   * Count a failed login in one statement; the failure that reaches `max` locks the account until
   * `lockUntil` and starts the count over.
   */
  recordFailure(id: number, max: number, lockUntil: Date): Promise<AdminUser | undefined> {
    const reached = sql<boolean>`failed_logins + 1 >= ${max}`;
    return this.db
      .updateTable('admin_users')
      .set({
        failed_logins: sql`case when ${reached} then 0 else failed_logins + 1 end`,
        locked_until: sql`case when ${reached} then ${lockUntil}::timestamptz else locked_until end`,
      })
      .where('id', '=', id)
      .returningAll()
      .executeTakeFirst();
  }

  async recordSuccess(id: number, newHash?: string): Promise<void> {
    await this.db
      .updateTable('admin_users')
      .set({
        failed_logins: 0,
        locked_until: null,
        last_login_at: sql`now()`,
        ...(newHash ? { password_hash: newHash } : {}),
      })
      .where('id', '=', id)
      .execute();
  }

  async insertSession(s: {
    id: string;
    adminUserId: number;
    csrfToken: string;
    ip: string | null;
    userAgent: string | null;
    createdAt: Date;
    expiresAt: Date;
  }): Promise<AdminSession> {
    return this.db
      .insertInto('admin_sessions')
      .values({
        id: s.id,
        admin_user_id: s.adminUserId,
        csrf_token: s.csrfToken,
        ip: s.ip,
        user_agent: s.userAgent,
        created_at: s.createdAt,
        last_seen_at: s.createdAt,
        expires_at: s.expiresAt,
      })
      .returningAll()
      .executeTakeFirstOrThrow();
  }

  /** The session unless it has expired by `now`. */
  async findSession(id: string, now: Date): Promise<SessionRow | undefined> {
    const row = await this.db
      .selectFrom('admin_sessions as s')
      .innerJoin('admin_users as a', 'a.id', 's.admin_user_id')
      .selectAll('a')
      .select([
        's.id as s_id',
        's.csrf_token as s_csrf_token',
        's.ip as s_ip',
        's.user_agent as s_user_agent',
        's.created_at as s_created_at',
        's.last_seen_at as s_last_seen_at',
        's.expires_at as s_expires_at',
      ])
      .where('s.id', '=', id)
      .where('s.expires_at', '>', now)
      .executeTakeFirst();
    if (!row) return undefined;
    const { s_id, s_csrf_token, s_ip, s_user_agent, s_created_at, s_last_seen_at, s_expires_at, ...admin } =
      row;
    return {
      admin,
      session: {
        id: s_id,
        admin_user_id: admin.id,
        csrf_token: s_csrf_token,
        ip: s_ip,
        user_agent: s_user_agent,
        created_at: s_created_at,
        last_seen_at: s_last_seen_at,
        expires_at: s_expires_at,
      },
    };
  }

  async extendSession(id: string, seenAt: Date, expiresAt: Date): Promise<void> {
    await this.db
      .updateTable('admin_sessions')
      .set({ last_seen_at: seenAt, expires_at: expiresAt })
      .where('id', '=', id)
      .execute();
  }

  async deleteSession(id: string): Promise<void> {
    await this.db.deleteFrom('admin_sessions').where('id', '=', id).execute();
  }

  /** Sign an account out everywhere (except, optionally, the session making the change). */
  async deleteSessionsOf(adminUserId: number, exceptId?: string): Promise<void> {
    let q = this.db.deleteFrom('admin_sessions').where('admin_user_id', '=', adminUserId);
    if (exceptId) q = q.where('id', '<>', exceptId);
    await q.execute();
  }

  async deleteExpiredSessions(now: Date): Promise<number> {
    const res = await this.db.deleteFrom('admin_sessions').where('expires_at', '<=', now).executeTakeFirst();
    return Number(res.numDeletedRows);
  }
}
