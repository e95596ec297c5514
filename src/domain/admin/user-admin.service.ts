import type { Dialog, Message, Subscription, User } from '../../platform/db/schema.js';
import type { Transactor } from '../../platform/db/transactor.js';
import { NotFoundError } from '../../platform/errors.js';
import type { Change } from '../change.js';
import type { DialogSummary, DialogsService } from '../dialogs/dialogs.service.js';
import type { SubscriptionsService } from '../subscriptions/subscriptions.service.js';
import type { UsersService } from '../users/users.service.js';
import { type Actor, type AuditService, auditFields } from './audit.service.js';

const userAudit = (u: User) => auditFields(u, ['banned_at', 'ban_reason', 'is_admin']);
const subAudit = (s: Subscription) =>
  auditFields(s, ['plan', 'expires_at', 'messages_used', 'messages_limit', 'images_used', 'images_limit']);

/**
 * What admins do to bot users — ban, unban, plans, quotas, the bot-admin flag — each change and
 * its audit row committed in one transaction.
 */
export class UserAdminService {
  constructor(
    private readonly tx: Transactor,
    private readonly users: UsersService,
    private readonly subscriptions: SubscriptionsService,
    private readonly dialogs: DialogsService,
    private readonly audit: AuditService,
  ) {}

  /** The user's dialogs in every chat: titles and counts, no content (reading one is audited). */
  listDialogs(userId: number): Promise<DialogSummary[]> {
    return this.dialogs.listAll(userId);
  }

  /**
   * Read one of the user's conversations: the newest `limit` messages. A private conversation read
   * by staff is itself an action: its audit row commits with the read or the read fails.
   */
  readDialog(
    actor: Actor,
    userId: number,
    dialogId: number,
    limit = 200,
  ): Promise<{ dialog: Dialog; messages: Message[] }> {
    return this.tx.run(async () => {
      const dialog = await this.dialogs.find(dialogId);
      if (!dialog || dialog.user_id !== userId)
        throw new NotFoundError(`dialog ${dialogId} of user ${userId} not found`);
      const messages = await this.dialogs.transcript(dialogId, limit);
      await this.audit.record(actor, {
        action: 'user.read_dialog',
        targetType: 'user',
        targetId: userId,
        after: { dialogId, chatId: dialog.chat_id, messages: messages.length },
      });
      return { dialog, messages };
    });
  }

  /** Run a change of the user row and write its audit row in the same transaction. */
  private userChange(
    actor: Actor,
    action: string,
    id: number,
    change: () => Promise<Change<User>>,
  ): Promise<User> {
    return this.tx.run(async () => {
      const { before, after } = await change();
      await this.audit.record(actor, {
        action,
        targetType: 'user',
        targetId: id,
        before: userAudit(before),
        after: userAudit(after),
      });
      return after;
    });
  }

  ban(actor: Actor, id: number, reason: string | null): Promise<User> {
    return this.userChange(actor, 'user.ban', id, () => this.users.ban(id, reason));
  }

  unban(actor: Actor, id: number): Promise<User> {
    return this.userChange(actor, 'user.unban', id, () => this.users.unban(id));
  }

  setAdmin(actor: Actor, id: number, isAdmin: boolean): Promise<User> {
    return this.userChange(actor, isAdmin ? 'user.make_admin' : 'user.revoke_admin', id, () =>
      this.users.setAdmin(id, isAdmin),
    );
  }

  grantPlan(actor: Actor, id: number, plan: string, until: Date | null): Promise<Subscription> {
    return this.subscriptionChange(actor, 'user.grant_plan', id, () =>
      this.subscriptions.grantPlan(id, plan, until),
    );
  }

  resetQuota(actor: Actor, id: number): Promise<Subscription> {
    return this.subscriptionChange(actor, 'user.reset_quota', id, () => this.subscriptions.resetQuota(id));
  }

  /** The subscription rules stay in SubscriptionsService; the row is locked before it is read. */
  private subscriptionChange(
    actor: Actor,
    action: string,
    id: number,
    change: () => Promise<Subscription>,
  ): Promise<Subscription> {
    return this.tx.run(async () => {
      const before = await this.subscriptions.getForUpdate(id);
      const after = await change();
      await this.audit.record(actor, {
        action,
        targetType: 'user',
        targetId: id,
        before: subAudit(before),
        after: subAudit(after),
      });
      return after;
    });
  }
}
