import type { Broadcast } from '../../platform/db/schema.js';
import type { Transactor } from '../../platform/db/transactor.js';
import type { BroadcastAction } from '../broadcasts/broadcast-transitions.js';
import type { BroadcastsService, CreateBroadcastInput } from '../broadcasts/broadcasts.service.js';
import type { BroadcastContentInput } from '../broadcasts/broadcasts.validation.js';
import type { Change } from '../change.js';
import { type Actor, type AuditService, auditFields } from './audit.service.js';

/** What the audit log keeps of a new broadcast: its content and audience, never the counters. */
const contentAudit = (b: Broadcast) =>
  auditFields(b, ['text', 'photo', 'button_text', 'button_url', 'audience', 'status', 'scheduled_at']);
const stateAudit = (b: Broadcast) => auditFields(b, ['status', 'scheduled_at']);

/**
 * Broadcasts managed from the panel: each change and its audit row commit in one transaction, so a
 * change whose audit row cannot be written does not happen (and queues no job).
 */
export class BroadcastAdminService {
  constructor(
    private readonly tx: Transactor,
    private readonly broadcasts: BroadcastsService,
    private readonly audit: AuditService,
  ) {}

  /** Save a draft (or a scheduled broadcast), and start it at once when `start` is set. */
  create(actor: Actor, input: Omit<CreateBroadcastInput, 'createdBy'>, start = false): Promise<Broadcast> {
    return this.tx.run(async () => {
      const b = await this.broadcasts.create({ ...input, createdBy: actor.username });
      await this.audit.record(actor, {
        action: 'broadcast.create',
        targetType: 'broadcast',
        targetId: b.id,
        after: contentAudit(b),
      });
      return start ? this.act(actor, b.id, 'start') : b;
    });
  }

  /** Change a broadcast's state (`at` is the time for 'schedule'). */
  act(actor: Actor, id: number, action: BroadcastAction, at?: Date): Promise<Broadcast> {
    return this.tx.run(async () => {
      const { before, after } = await this.change(id, action, at);
      await this.audit.record(actor, {
        action: `broadcast.${action}`,
        targetType: 'broadcast',
        targetId: id,
        before: stateAudit(before),
        after: stateAudit(after),
      });
      return after;
    });
  }

  /**
   * Send the content to the admin's own Telegram chat. Telegram has the message once it answers, so
   * a failing audit write after it is logged loudly rather than reported as a failed send.
   */
  async testSend(
    actor: Actor,
    input: BroadcastContentInput,
    telegramUserId: number,
  ): Promise<{ messageId: number }> {
    const res = await this.broadcasts.testSend(input, telegramUserId);
    await this.audit.recordAfter(actor, {
      action: 'broadcast.test_send',
      targetType: 'telegram_user',
      targetId: telegramUserId,
      after: { text: input.text, messageId: res.messageId },
    });
    return res;
  }

  private change(id: number, action: BroadcastAction, at: Date | undefined): Promise<Change<Broadcast>> {
    if (action !== 'schedule') return this.broadcasts[action](id);
    // The service validates the date and answers with the field it concerns.
    return this.broadcasts.schedule(id, at as Date);
  }
}
