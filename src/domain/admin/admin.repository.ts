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
  passwordChangeRequired?: boolean;
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

  /**
   * The first-start owner: inserted only while no account exists at all (concurrent first starts
   * create one), pending its first sign-in and bound to choose a new password then.
   */
  async insertFirst(a: NewAdmin): Promise<AdminUser | undefined> {
    const res = await sql<AdminUser>`
      insert into admin_users (username, password_hash, role, password_change_required, bootstrap_pending)
      select ${a.username.toLowerCase()}, ${a.passwordHash}, ${a.role}, true, true
      where not exists (select 1 from admin_users)
      on conflict (username) do nothing
      returning *`.execute(this.db);
    return res.rows[0];
  }

  /** The first-start owner while nobody has signed in with its credential yet. */
  findBootstrapPending(): Promise<AdminUser | undefined> {
    return this.db
      .selectFrom('admin_users')
      .selectAll()
      .where('bootstrap_pending', '=', true)
      .orderBy('id')
      .limit(1)
      .executeTakeFirst();
  }

  /**
   * Give the pending first-start owner a new credential, only if its hash is still `previousHash`:
   * of two processes starting at once, one wins and shows its password; the other shows none.
   */
  async renewBootstrap(id: number, previousHash: string, passwordHash: string): Promise<boolean> {
    const res = await this.db
      .updateTable('admin_users')
      .set({ password_hash: passwordHash, updated_at: sql`now()` })
      .where('id', '=', id)
      .where('bootstrap_pending', '=', true)
      .where('password_hash', '=', previousHash)
      .executeTakeFirst();
    return Number(res.numUpdatedRows) > 0;
  }

  update(id: number, patch: AdminPatch): Promise<AdminUser | undefined> {
    return this.db
      .updateTable('admin_users')
      .set({
        ...(patch.role ? { role: patch.role } : {}),
        ...(patch.passwordHash ? { password_hash: patch.passwordHash } : {}),
        ...(patch.passwordChangeRequired !== undefined
          ? { password_change_required: patch.passwordChangeRequired }
          : {}),
        ...(patch.telegramUserId !== undefined ? { telegram_user_id: patch.telegramUserId } : {}),
        ...(patch.disabled !== undefined ? { disabled_at: patch.disabled ? sql`now()` : null } : {}),
        updated_at: sql`now()`,
      })
      .where('id', '=', id)
      .returningAll()
      .executeTakeFirst();
  }

  /**
   * Lock every active owner (in id order, so two callers never hold each other's rows) and return
   * their ids: under READ COMMITTED a plain count lets two owners removing each other both see two.
   */
  async lockActiveOwners(): Promise<number[]> {
    const rows = await this.db
      .selectFrom('admin_users')
      .select('id')
      .where('role', '=', 'owner')
      .where('disabled_at', 'is', null)
      .orderBy('id')
      .forUpdate()
      .execute();
    return rows.map((r) => r.id);
  }

  async recordSuccess(id: number, newHash?: string): Promise<void> {
    await this.db
      .updateTable('admin_users')
      .set({
        last_login_at: sql`now()`,
        // Its first-start credential has been used: later starts no longer offer a new one.
        bootstrap_pending: false,
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
