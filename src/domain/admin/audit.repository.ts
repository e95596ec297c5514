import { sql } from 'kysely';
import type { AdminAuditEntry } from '../../platform/db/schema.js';
import { Repository } from '../../platform/db/transactor.js';

export interface NewAuditEntry {
  adminUserId: number | null;
  adminUsername: string;
  action: string;
  targetType?: string | null;
  targetId?: string | number | null;
  before?: unknown;
  after?: unknown;
  ip?: string | null;
}

export interface AuditQuery {
  limit: number;
  beforeId?: number | undefined;
  action?: string | undefined;
  targetType?: string | undefined;
  targetId?: string | undefined;
}

export class AuditRepository extends Repository {
  insert(e: NewAuditEntry): Promise<AdminAuditEntry> {
    return this.db
      .insertInto('admin_audit_log')
      .values({
        admin_user_id: e.adminUserId,
        admin_username: e.adminUsername,
        action: e.action,
        target_type: e.targetType ?? null,
        target_id: e.targetId === undefined || e.targetId === null ? null : String(e.targetId),
        before: e.before === undefined ? null : JSON.stringify(e.before),
        after: e.after === undefined ? null : JSON.stringify(e.after),
        ip: e.ip ?? null,
      })
      .returningAll()
      .executeTakeFirstOrThrow();
  }

  /** Merge `fields` into the row's `after` object. */
  async addToAfter(id: number, fields: Record<string, unknown>): Promise<void> {
    await this.db
      .updateTable('admin_audit_log')
      .set({ after: sql`coalesce(after, '{}'::jsonb) || ${JSON.stringify(fields)}::jsonb` })
      .where('id', '=', id)
      .execute();
  }

  /** Newest first, keyset-paginated by id. */
  list(q: AuditQuery): Promise<AdminAuditEntry[]> {
    let query = this.db.selectFrom('admin_audit_log').selectAll().orderBy('id', 'desc').limit(q.limit);
    if (q.beforeId !== undefined) query = query.where('id', '<', q.beforeId);
    if (q.action) query = query.where('action', '=', q.action);
    if (q.targetType) query = query.where('target_type', '=', q.targetType);
    if (q.targetId) query = query.where('target_id', '=', q.targetId);
    return query.execute();
  }
}
