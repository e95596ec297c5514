import type { Db } from '../../platform/db/database.js';
import type { Subscription, User } from '../../platform/db/schema.js';
import type { Logger } from '../../platform/logger.js';
import type { SettingsService } from '../settings/settings.service.js';
import { SubscriptionsRepository } from '../subscriptions/subscriptions.repository.js';
import { SubscriptionsService } from '../subscriptions/subscriptions.service.js';
import type { UserChangeHook, UsersService } from '../users/users.service.js';
import type { Actor, AuditService } from './audit.service.js';

/** The fields of a user worth keeping in the audit log for a change. */
function userAudit(u: User) {
  return { banned_at: u.banned_at, ban_reason: u.ban_reason, is_admin: u.is_admin };
}

function subAudit(s: Subscription) {
  return {
    plan: s.plan,
    expires_at: s.expires_at,
    messages_used: s.messages_used,
    messages_limit: s.messages_limit,
    images_used: s.images_used,
    images_limit: s.images_limit,
  };
}

/**
 * What admins do to bot users — ban, unban, plans, quotas, the bot-admin flag — each change and
 * its audit row committed in one transaction.
 */
export class UserAdminService {
  constructor(
    private readonly db: Db,
    private readonly users: UsersService,
    private readonly settings: SettingsService,
    private readonly audit: AuditService,
    private readonly logger: Logger,
  ) {}

  private audited(actor: Actor, action: string, id: number): UserChangeHook {
    return async (trx, { before, after }) => {
      await this.audit.record(
        actor,
        { action, targetType: 'user', targetId: id, before: userAudit(before), after: userAudit(after) },
        trx,
      );
    };
  }

  ban(actor: Actor, id: number, reason: string | null): Promise<User> {
    return this.users.ban(id, reason, this.audited(actor, 'user.ban', id));
  }

  unban(actor: Actor, id: number): Promise<User> {
    return this.users.unban(id, this.audited(actor, 'user.unban', id));
  }

  setAdmin(actor: Actor, id: number, isAdmin: boolean): Promise<User> {
    return this.users.setAdmin(
      id,
      isAdmin,
      this.audited(actor, isAdmin ? 'user.make_admin' : 'user.revoke_admin', id),
    );
  }

  grantPlan(actor: Actor, id: number, plan: string, until: Date | null): Promise<Subscription> {
    return this.withSubscriptions(actor, 'user.grant_plan', id, (subs) => subs.grantPlan(id, plan, until));
  }

  resetQuota(actor: Actor, id: number): Promise<Subscription> {
    return this.withSubscriptions(actor, 'user.reset_quota', id, (subs) => subs.resetQuota(id));
  }

  /**
   * The subscription rules stay in SubscriptionsService; it runs here on the transaction, settings
   * included, so no query waits for a connection the transaction holds (PGlite has only one).
   */
  private withSubscriptions(
    actor: Actor,
    action: string,
    id: number,
    change: (subs: SubscriptionsService) => Promise<Subscription>,
  ): Promise<Subscription> {
    return this.db.transaction().execute(async (trx) => {
      const subs = new SubscriptionsService(
        new SubscriptionsRepository(trx),
        this.settings.inTransaction(trx),
        this.logger,
      );
      const before = await subs.get(id);
      const after = await change(subs);
      await this.audit.record(
        actor,
        { action, targetType: 'user', targetId: id, before: subAudit(before), after: subAudit(after) },
        trx,
      );
      return after;
    });
  }
}
