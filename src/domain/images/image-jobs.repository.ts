import { type ExpressionBuilder, type Insertable, sql, type Updateable } from 'kysely';
import type { DB, ImageJob, ImageJobStatus, ImageJobsTable, Message } from '../../platform/db/schema.js';
import { msAgo, msFromNow } from '../../platform/db/sql-time.js';
import { Repository } from '../../platform/db/transactor.js';

/** Statuses of a job that is not finished. */
export const OPEN_STATUSES = ['queued', 'running', 'delivering'] as const satisfies readonly ImageJobStatus[];

/** Where a job stands, to tell why a claim found nothing to take. */
export interface ImageJobState {
  status: ImageJobStatus;
  /** How long another attempt still holds the row; null when nobody does. */
  heldForMs: number | null;
  /** The user's unfinished jobs queued before this one. */
  ahead: number;
}

/** A row of the admin gallery or a user's history: the job and who asked for it. */
export interface ImageJobListItem extends ImageJob {
  first_name: string;
  username: string | null;
}

export interface ImageJobFilter {
  status?: ImageJobStatus | undefined;
  userId?: number | undefined;
  beforeId?: number | undefined;
  limit: number;
}

type Eb = ExpressionBuilder<DB, 'image_jobs'>;

/** Nobody holds the row: no lease, or it ran out. */
const unheld = (eb: Eb) => eb.or([eb('lease_until', 'is', null), eb('lease_until', '<=', sql<Date>`now()`)]);

export class ImageJobsRepository extends Repository {
  insert(values: Insertable<ImageJobsTable>): Promise<ImageJob> {
    return this.db.insertInto('image_jobs').values(values).returningAll().executeTakeFirstOrThrow();
  }

  find(id: number): Promise<ImageJob | undefined> {
    return this.db.selectFrom('image_jobs').selectAll().where('id', '=', id).executeTakeFirst();
  }

  /** The user's unfinished jobs. */
  async countOpen(userId: number): Promise<number> {
    const r = await this.db
      .selectFrom('image_jobs')
      .select((eb) => eb.fn.countAll<string>().as('n'))
      .where('user_id', '=', userId)
      .where('status', 'in', OPEN_STATUSES)
      .executeTakeFirstOrThrow();
    return Number(r.n);
  }

  /** The user's unfinished jobs queued before this one: its place in the user's line. */
  async ahead(userId: number, id: number): Promise<number> {
    const r = await this.db
      .selectFrom('image_jobs')
      .select((eb) => eb.fn.countAll<string>().as('n'))
      .where('user_id', '=', userId)
      .where('status', 'in', OPEN_STATUSES)
      .where('id', '<', id)
      .executeTakeFirstOrThrow();
    return Number(r.n);
  }

  /**
   * Take the job for one attempt: a queued job, or an unfinished one whose holder's lease ran out
   * (its worker died), and only while fewer than `inFlight` of the user's unfinished jobs were
   * queued before it — so a user's pictures go in order, `inFlight` at a time, without a lock: rows
   * only ever leave the unfinished set, and new ones come after. The first claim starts the clock
   * (`deadline_at`); a queued job becomes running, a delivering one stays delivering.
   */
  claim(
    id: number,
    token: string,
    opts: { leaseMs: number; inFlight: number; deadlineMs: number },
  ): Promise<ImageJob | undefined> {
    return this.db
      .updateTable('image_jobs as j')
      .set({
        status: sql`case when j.status = 'queued' then 'running' else j.status end`,
        claim_token: token,
        lease_until: msFromNow(opts.leaseMs),
        attempts: sql`j.attempts + 1`,
        started_at: sql`coalesce(j.started_at, now())`,
        deadline_at: sql`coalesce(j.deadline_at, ${msFromNow(opts.deadlineMs)})`,
        updated_at: sql`now()`,
      })
      .where('j.id', '=', id)
      .where('j.status', 'in', OPEN_STATUSES)
      .where((eb) => eb.or([eb('j.lease_until', 'is', null), eb('j.lease_until', '<=', sql<Date>`now()`)]))
      .where(
        sql<boolean>`(select count(*) from image_jobs o where o.user_id = j.user_id
          and o.status in ('queued', 'running', 'delivering') and o.id < j.id) < ${opts.inFlight}`,
      )
      .returningAll()
      .executeTakeFirst();
  }

  async state(id: number): Promise<ImageJobState | undefined> {
    const row = await this.db
      .selectFrom('image_jobs as j')
      .select([
        'j.status',
        sql<number | null>`case when j.lease_until > now()
          then ceil(extract(epoch from j.lease_until - now()) * 1000) end`.as('heldForMs'),
        sql<string>`(select count(*) from image_jobs o where o.user_id = j.user_id
          and o.status in ('queued', 'running', 'delivering') and o.id < j.id)`.as('ahead'),
      ])
      .where('j.id', '=', id)
      .executeTakeFirst();
    return (
      row && {
        status: row.status,
        heldForMs: row.heldForMs === null ? null : Number(row.heldForMs),
        ahead: Number(row.ahead),
      }
    );
  }

  /** Extend the holder's lease; false once `token` no longer holds an unfinished job (cancelled, taken over). */
  async renew(id: number, token: string, leaseMs: number): Promise<boolean> {
    const res = await this.db
      .updateTable('image_jobs')
      .set({ lease_until: msFromNow(leaseMs) })
      .where('id', '=', id)
      .where('claim_token', '=', token)
      .where('status', 'in', OPEN_STATUSES)
      .executeTakeFirst();
    return Number(res.numUpdatedRows) > 0;
  }

  /** Hand the job back for the next attempt (only while `token` holds it). */
  async release(id: number, token: string, error?: string): Promise<void> {
    await this.db
      .updateTable('image_jobs')
      .set({
        claim_token: null,
        lease_until: null,
        ...(error === undefined ? {} : { error: error.slice(0, 1000) }),
        updated_at: sql`now()`,
      })
      .where('id', '=', id)
      .where('claim_token', '=', token)
      .where('status', 'in', OPEN_STATUSES)
      .execute();
  }

  /** A write of the holder's while the job is unfinished; false when `token` no longer holds it. */
  async update(id: number, token: string, patch: Updateable<ImageJobsTable>): Promise<boolean> {
    const res = await this.db
      .updateTable('image_jobs')
      .set({ ...patch, updated_at: sql`now()` })
      .where('id', '=', id)
      .where('claim_token', '=', token)
      .where('status', 'in', OPEN_STATUSES)
      .executeTakeFirst();
    return Number(res.numUpdatedRows) > 0;
  }

  /** Where the user's placeholder message is (set once, by the request that made the job). */
  async setPlaceholder(id: number, messageId: number): Promise<void> {
    await this.db
      .updateTable('image_jobs')
      .set({ placeholder_message_id: messageId, updated_at: sql`now()` })
      .where('id', '=', id)
      .where('placeholder_message_id', 'is', null)
      .execute();
  }

  /**
   * Move to `to` only from one of `from`, in one statement, so of two racing transitions exactly
   * one happens. With `token`, only while that attempt holds the job; `unheldOnly`, only while
   * nobody does. A final state drops the claim.
   */
  transition(
    id: number,
    from: readonly ImageJobStatus[],
    to: ImageJobStatus,
    patch: Updateable<ImageJobsTable>,
    guard: { token?: string | undefined; unheldOnly?: boolean } = {},
  ): Promise<ImageJob | undefined> {
    const final = !(OPEN_STATUSES as readonly string[]).includes(to);
    let q = this.db
      .updateTable('image_jobs')
      .set({
        ...patch,
        status: to,
        ...(final ? { claim_token: null, lease_until: null, finished_at: sql`now()` } : {}),
        updated_at: sql`now()`,
      })
      .where('id', '=', id)
      .where('status', 'in', [...from]);
    if (guard.token !== undefined) q = q.where('claim_token', '=', guard.token);
    if (guard.unheldOnly) q = q.where(unheld);
    return q.returningAll().executeTakeFirst();
  }

  /** Unfinished jobs nobody holds that have not moved for `olderThanS`: their job was lost or died. */
  async stale(olderThanS: number, limit: number): Promise<ImageJob[]> {
    return this.db
      .selectFrom('image_jobs')
      .selectAll()
      .where('status', 'in', OPEN_STATUSES)
      .where('updated_at', '<', msAgo(olderThanS * 1000))
      .where(unheld)
      .orderBy('updated_at')
      .limit(limit)
      .execute();
  }

  /**
   * The user's jobs whose turn it is (the first `inFlight` unfinished ones), leaving out those whose
   * request is still putting out their placeholder (younger than `handoverS` without one): that
   * request queues them itself.
   */
  async runnable(userId: number, inFlight: number, handoverS: number): Promise<number[]> {
    const rows = await this.db
      .selectFrom('image_jobs')
      .select(['id', 'placeholder_message_id', 'queued_at'])
      .where('user_id', '=', userId)
      .where('status', 'in', OPEN_STATUSES)
      .orderBy('id')
      .limit(inFlight)
      .execute();
    const handedOver = Date.now() - handoverS * 1000;
    return rows
      .filter((r) => r.placeholder_message_id !== null || r.queued_at.getTime() < handedOver)
      .map((r) => r.id);
  }

  /** Newest first, keyset-paged by id; with the user's name for the gallery. */
  list(f: ImageJobFilter): Promise<ImageJobListItem[]> {
    let q = this.db
      .selectFrom('image_jobs as j')
      .innerJoin('users as u', 'u.id', 'j.user_id')
      .selectAll('j')
      .select(['u.first_name', 'u.username'])
      .orderBy('j.id', 'desc')
      .limit(f.limit);
    if (f.status) q = q.where('j.status', '=', f.status);
    if (f.userId !== undefined) q = q.where('j.user_id', '=', f.userId);
    if (f.beforeId !== undefined) q = q.where('j.id', '<', f.beforeId);
    return q.execute();
  }

  /** An AI answer and the dialog it belongs to (for the 🎨 button under it). */
  answer(messageId: number): Promise<{ dialog_id: number; user_id: number; chat_id: number } | undefined> {
    return this.db
      .selectFrom('messages as m')
      .innerJoin('dialogs as d', 'd.id', 'm.dialog_id')
      .select(['m.dialog_id', 'd.user_id', 'd.chat_id'])
      .where('m.id', '=', messageId)
      .where('m.role', '=', 'assistant')
      .executeTakeFirst();
  }

  /** The dialog's newest user and AI messages up to `upToId`, newest first. */
  dialogExcerpt(dialogId: number, upToId: number, limit: number): Promise<Message[]> {
    return this.db
      .selectFrom('messages')
      .selectAll()
      .where('dialog_id', '=', dialogId)
      .where('id', '<=', upToId)
      .where('role', 'in', ['user', 'assistant'])
      .orderBy('id', 'desc')
      .limit(limit)
      .execute();
  }

  async countOpenAll(): Promise<number> {
    const r = await this.db
      .selectFrom('image_jobs')
      .select((eb) => eb.fn.countAll<string>().as('n'))
      .where('status', 'in', OPEN_STATUSES)
      .executeTakeFirstOrThrow();
    return Number(r.n);
  }
}
