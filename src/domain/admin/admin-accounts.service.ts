import type { AdminRole, AdminUser } from '../../platform/db/schema.js';
import type { Transactor } from '../../platform/db/transactor.js';
import { ConflictError, NotFoundError, ValidationError } from '../../platform/errors.js';
import type { Logger } from '../../platform/logger.js';
import type { AdminRepository } from './admin.repository.js';
import type { Actor, AuditService } from './audit.service.js';
import { checkPasswordPolicy, generatePassword, hashPassword, verifyPassword } from './passwords.js';

export const ADMIN_ROLES: readonly AdminRole[] = ['owner', 'admin', 'viewer'];
const USERNAME = /^[a-z0-9][a-z0-9._-]{2,63}$/;

/** An account as shown to other admins: never the password hash. */
export type AdminView = Omit<AdminUser, 'password_hash'>;

export function adminView(a: AdminUser): AdminView {
  const { password_hash: _hash, ...rest } = a;
  return rest;
}

export function normalizeUsername(username: string): string {
  const u = username.trim().toLowerCase();
  if (!USERNAME.test(u)) {
    throw new ValidationError('a username is 3-64 characters: letters, digits, ".", "_" and "-"', {
      issues: [{ path: 'username', message: '3-64 characters: a-z, 0-9, ".", "_", "-"' }],
    });
  }
  return u;
}

/**
 * What the first start found: accounts already in use, or the first owner — just created, or still
 * waiting for its first sign-in — with a generated password to show (`password`) or the configured one.
 */
export type BootstrapResult =
  | { kind: 'existing' }
  | { kind: 'created' | 'pending'; username: string; source: 'env' | 'generated'; password?: string };

/** Admin accounts: creation (CLI, first start, owners), roles, disabling, own password and Telegram id. */
export class AdminAccountsService {
  constructor(
    private readonly tx: Transactor,
    private readonly repo: AdminRepository,
    private readonly audit: AuditService,
    private readonly logger: Logger,
  ) {}

  async create(
    input: { username: string; password: string; role: AdminRole },
    actor?: Actor,
  ): Promise<AdminView> {
    const username = normalizeUsername(input.username);
    checkPasswordPolicy(input.password);
    const passwordHash = await hashPassword(input.password);
    const created = await this.tx.run(async () => {
      const row = await this.repo.insert({ username, passwordHash, role: input.role });
      if (!row) throw new ConflictError(`the username "${username}" is taken`);
      if (actor) {
        await this.audit.record(actor, {
          action: 'admin.create',
          targetType: 'admin',
          targetId: row.id,
          after: adminView(row),
        });
      }
      return row;
    });
    this.logger.info(
      { admin: username, role: input.role, by: actor?.username ?? 'cli' },
      'admin account created',
    );
    return adminView(created);
  }

  /**
   * First start: with no account at all, create the owner from the bootstrap settings, or with a
   * generated password the caller shows. Until someone signs in with it, every start offers it again
   * — a new generated password each time, or the configured one (re-applied, so correcting it in
   * the environment works) — so a start that failed after showing it never leaves the panel locked.
   */
  async bootstrap(env: {
    username?: string | undefined;
    password?: string | undefined;
  }): Promise<BootstrapResult> {
    const generated = env.password ? undefined : generatePassword();
    const password = env.password ?? generated!;
    checkPasswordPolicy(password);
    const source = generated ? 'generated' : 'env';
    const shown = generated ? { password: generated } : {};
    const pending = await this.repo.findBootstrapPending();
    if (pending) {
      const current = !generated && (await verifyPassword(pending.password_hash, password));
      if (
        !current &&
        !(await this.repo.renewBootstrap(pending.id, pending.password_hash, await hashPassword(password)))
      ) {
        // Another process starting at the same moment renewed it first and shows its own.
        return { kind: 'existing' };
      }
      return { kind: 'pending', username: pending.username, source, ...shown };
    }
    if ((await this.repo.count()) > 0) return { kind: 'existing' };
    const username = normalizeUsername(env.username ?? 'admin');
    const row = await this.repo.insertFirst({
      username,
      passwordHash: await hashPassword(password),
      role: 'owner',
    });
    // Another process won the race: it created (and reports) the first owner.
    if (!row) return { kind: 'existing' };
    return { kind: 'created', username, source, ...shown };
  }

  /** How many accounts exist (the first one the CLI creates is an owner). */
  count(): Promise<number> {
    return this.repo.count();
  }

  async list(): Promise<AdminView[]> {
    return (await this.repo.list()).map(adminView);
  }

  async get(id: number): Promise<AdminView> {
    const a = await this.repo.findById(id);
    if (!a) throw new NotFoundError(`admin ${id} not found`);
    return adminView(a);
  }

  /** Change another account's role or disable it. The last active owner can be neither demoted nor disabled. */
  async update(
    id: number,
    patch: { role?: AdminRole; disabled?: boolean },
    actor: Actor,
  ): Promise<AdminView> {
    if (id === actor.id) throw new ValidationError('you cannot change your own role or disable yourself');
    const removesOwner = (patch.role !== undefined && patch.role !== 'owner') || patch.disabled === true;
    const after = await this.tx.run(async () => {
      // Every active owner is locked before anyone is counted: otherwise two owners removing each
      // other at once each still see the other and both commit.
      const owners = removesOwner ? await this.repo.lockActiveOwners() : [];
      const before = await this.repo.findForUpdate(id);
      if (!before) throw new NotFoundError(`admin ${id} not found`);
      if (owners.includes(id) && owners.length <= 1) {
        throw new ValidationError('the last owner cannot be demoted or disabled');
      }
      const row = await this.repo.update(id, patch);
      if (!row) throw new NotFoundError(`admin ${id} not found`);
      if (patch.disabled) await this.repo.deleteSessionsOf(id);
      await this.audit.record(actor, {
        action: 'admin.update',
        targetType: 'admin',
        targetId: id,
        before: adminView(before),
        after: adminView(row),
      });
      return row;
    });
    return adminView(after);
  }

  /**
   * Change the signed-in admin's password (which also meets a required change); every other
   * session of theirs is signed out.
   */
  async changePassword(actor: Actor, sessionId: string, current: string, next: string): Promise<void> {
    const me = await this.repo.findById(actor.id);
    if (!me) throw new NotFoundError('account not found');
    if (!(await verifyPassword(me.password_hash, current))) {
      throw new ValidationError('the current password is wrong', {
        issues: [{ path: 'current', message: 'wrong password' }],
      });
    }
    checkPasswordPolicy(next, 'password');
    if (next === current) {
      throw new ValidationError('the new password must differ from the current one', {
        issues: [{ path: 'password', message: 'choose a password you have not used here' }],
      });
    }
    const passwordHash = await hashPassword(next);
    await this.tx.run(async () => {
      await this.repo.update(actor.id, { passwordHash, passwordChangeRequired: false });
      await this.repo.deleteSessionsOf(actor.id, sessionId);
      await this.audit.record(actor, { action: 'admin.password', targetType: 'admin', targetId: actor.id });
    });
  }

  /** Where test broadcasts go: the admin's own Telegram user id. */
  async setTelegramId(actor: Actor, telegramUserId: number | null): Promise<AdminView> {
    return this.tx.run(async () => {
      const before = await this.repo.findForUpdate(actor.id);
      if (!before) throw new NotFoundError('account not found');
      const row = (await this.repo.update(actor.id, { telegramUserId }))!;
      await this.audit.record(actor, {
        action: 'admin.telegram_id',
        targetType: 'admin',
        targetId: actor.id,
        before: { telegram_user_id: before.telegram_user_id },
        after: { telegram_user_id: row.telegram_user_id },
      });
      return adminView(row);
    });
  }
}
