import type { AdminAuditEntry } from '../../platform/db/schema.js';
import type { Logger } from '../../platform/logger.js';
import type { AuditQuery, AuditRepository } from './audit.repository.js';

/** Who is acting: the signed-in admin and where the request came from. */
/**
 * The columns of a row the audit log keeps for a change. They are named, so a column added later
 * (a secret, a counter) does not reach the log unasked.
 */
export function auditFields<T, K extends keyof T>(row: T, columns: readonly K[]): Pick<T, K> {
  return Object.fromEntries(columns.map((c) => [c, row[c]])) as Pick<T, K>;
}

export interface Actor {
  id: number;
  username: string;
  ip: string | null;
}

/** Who an audit row names: an admin, or (id null) someone who is not signed in, e.g. a failed sign-in. */
export type AuditActor = Omit<Actor, 'id'> & { id: number | null };

/** What changed: the audit row besides who and when. */
export interface AuditChange {
  action: string;
  targetType?: string;
  targetId?: string | number;
  before?: unknown;
  after?: unknown;
}

/** The admin audit log: one row for every mutating action (who, what, when, before/after). */
export class AuditService {
  constructor(
    private readonly repo: AuditRepository,
    private readonly logger: Logger,
  ) {}

  /** Write the row; inside a transaction it commits (or rolls back) with the change. */
  async record(actor: AuditActor, change: AuditChange): Promise<AdminAuditEntry> {
    const entry = await this.repo.insert({
      adminUserId: actor.id,
      adminUsername: actor.username,
      ip: actor.ip,
      ...change,
    });
    this.logger.info(
      {
        admin: actor.username,
        action: change.action,
        target: change.targetType ? `${change.targetType}:${change.targetId ?? ''}` : undefined,
        ip: actor.ip,
      },
      'admin action',
    );
    return entry;
  }

  /**
   * For changes made by a service that owns its own transaction: the change is already committed,
   * so a failing audit write is logged loudly rather than reported as a failed action.
   */
  async recordAfter(actor: Actor, change: AuditChange): Promise<void> {
    try {
      await this.record(actor, change);
    } catch (err) {
      this.logger.error({ err, admin: actor.username, action: change.action }, 'audit write failed');
    }
  }

  /** For a row written before its change was attempted: the change then failed with `status`. */
  async markFailed(id: number, status: number): Promise<void> {
    await this.repo.addToAfter(id, { failedWithStatus: status });
    this.logger.info({ auditId: id, status }, 'admin action failed after its audit row');
  }

  list(q: AuditQuery): Promise<AdminAuditEntry[]> {
    return this.repo.list(q);
  }
}
