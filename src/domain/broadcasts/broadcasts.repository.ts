import { type ExpressionBuilder, type Insertable, sql, type Updateable, type UpdateObject } from 'kysely';
import type {
  Broadcast,
  BroadcastAudience,
  BroadcastStatus,
  BroadcastsTable,
  DB,
  DeliveryStatus,
} from '../../platform/db/schema.js';
import { msFromNow } from '../../platform/db/sql-time.js';
import { Repository } from '../../platform/db/transactor.js';

export type DeliveryCounts = Record<DeliveryStatus, number>;

/** A delivery row just claimed for sending, with what to send and whether the user still qualifies. */
export interface ClaimedDelivery {
  attempts: number;
  text: string;
  photo: string | null;
  button_text: string | null;
  button_url: string | null;
  banned: boolean;
  botBlocked: boolean;
  notificationsEnabled: boolean;
}

/** Final states a delivery can be given once it was claimed. */
export type DeliveryResult = 'sent' | 'blocked' | 'failed' | 'cancelled';

/** Where a delivery stands, to tell why a claim found nothing to take. */
export interface DeliveryState {
  status: DeliveryStatus;
  broadcastStatus: BroadcastStatus;
  /** How long another attempt still holds the row; null when nobody does. */
  heldForMs: number | null;
}

const OPEN_DELIVERY: DeliveryStatus[] = ['pending', 'sending'];

export class BroadcastsRepository extends Repository {
  insert(values: Insertable<BroadcastsTable>): Promise<Broadcast> {
    return this.db.insertInto('broadcasts').values(values).returningAll().executeTakeFirstOrThrow();
  }

  find(id: number): Promise<Broadcast | undefined> {
    return this.db.selectFrom('broadcasts').selectAll().where('id', '=', id).executeTakeFirst();
  }

  list(limit: number, beforeId?: number): Promise<Broadcast[]> {
    let q = this.db.selectFrom('broadcasts').selectAll().orderBy('id', 'desc').limit(limit);
    if (beforeId !== undefined) q = q.where('id', '<', beforeId);
    return q.execute();
  }

  /** Move to a new status only from one of `from`, in one statement (safe against concurrent changes). */
  transition(
    id: number,
    from: readonly BroadcastStatus[],
    patch: Updateable<BroadcastsTable>,
  ): Promise<Broadcast | undefined> {
    return this.db
      .updateTable('broadcasts')
      .set({ ...patch, updated_at: sql`now()` })
      .where('id', '=', id)
      .where('status', 'in', [...from])
      .returningAll()
      .executeTakeFirst();
  }

  /** The row, locked until the transaction ends: changes wait for a materialization in flight, and it for them. */
  findForUpdate(id: number): Promise<Broadcast | undefined> {
    return this.db.selectFrom('broadcasts').selectAll().where('id', '=', id).forUpdate().executeTakeFirst();
  }

  /**
   * Cancel what nobody is sending: pending rows and rows whose claim ran out. A held row belongs to a
   * send in flight; its holder records how it ended. `userId` undefined: every row of the broadcast.
   */
  async closeUnheld(broadcastId: number, userId: number | undefined, error: string): Promise<void> {
    let q = this.db
      .updateTable('broadcast_deliveries')
      .set({ status: 'cancelled', error, updated_at: sql`now()` })
      .where('broadcast_id', '=', broadcastId)
      .where((eb) =>
        eb.or([eb('status', '=', 'pending'), eb.and([eb('status', '=', 'sending'), unheld(eb)])]),
      );
    if (userId !== undefined) q = q.where('user_id', '=', userId);
    await q.execute();
  }

  countAudience(audience: BroadcastAudience): Promise<number> {
    return this.audience(audience)
      .select((eb) => eb.fn.countAll<string>().as('n'))
      .executeTakeFirstOrThrow()
      .then((r) => Number(r.n));
  }

  /**
   * One delivery row per recipient, idempotently (a retried start adds nobody twice), and the
   * total. The broadcast row is locked first, so a cancel waits for the rows and then closes them.
   * Returns undefined when the broadcast is no longer running or paused.
   */
  materialize(id: number): Promise<{ total: number; status: BroadcastStatus } | undefined> {
    return this.atomically(async () => {
      const b = await this.db
        .selectFrom('broadcasts')
        .select(['status', 'audience'])
        .where('id', '=', id)
        .forUpdate()
        .executeTakeFirst();
      if (!b || (b.status !== 'running' && b.status !== 'paused')) return undefined;
      await this.db
        .insertInto('broadcast_deliveries')
        .columns(['broadcast_id', 'user_id'])
        .expression(this.audience(b.audience).select([sql<number>`${id}::bigint`.as('broadcast_id'), 'u.id']))
        .onConflict((oc) => oc.doNothing())
        .execute();
      const row = await this.db
        .updateTable('broadcasts')
        .set({
          total_recipients: sql`(select count(*) from broadcast_deliveries where broadcast_id = ${id}::bigint)`,
          updated_at: sql`now()`,
        })
        .where('id', '=', id)
        .returning('total_recipients')
        .executeTakeFirstOrThrow();
      return { total: row.total_recipients, status: b.status };
    });
  }

  hasDeliveries(id: number): Promise<boolean> {
    return this.db
      .selectFrom('broadcast_deliveries')
      .select('user_id')
      .where('broadcast_id', '=', id)
      .limit(1)
      .executeTakeFirst()
      .then(Boolean);
  }

  /** The first `limit` pending recipients (by user id, so repeated calls pick the same rows). */
  pendingUserIds(id: number, limit: number): Promise<number[]> {
    return this.recipientIds(id, 'pending', limit);
  }

  /** 'sending' rows whose claim ran out: their send died with its worker (or froze past the lease). */
  unheldSendingUserIds(id: number, limit: number): Promise<number[]> {
    return this.recipientIds(id, 'sending', limit, unheld);
  }

  /** Up to `limit` recipients in `status` (and `also`), by user id: repeated calls see the same rows first. */
  private async recipientIds(
    id: number,
    status: DeliveryStatus,
    limit: number,
    also?: typeof unheld,
  ): Promise<number[]> {
    let q = this.db
      .selectFrom('broadcast_deliveries')
      .select('user_id')
      .where('broadcast_id', '=', id)
      .where('status', '=', status);
    if (also) q = q.where(also);
    const rows = await q.orderBy('user_id').limit(limit).execute();
    return rows.map((r) => r.user_id);
  }

  /**
   * Claim a delivery for sending while its broadcast is running: a pending row, or a 'sending' row
   * whose claim ran out (an attempt whose worker died). `token` names this attempt for finish() and
   * release(); nobody else may take the row for `leaseMs`.
   */
  async claim(
    broadcastId: number,
    userId: number,
    token: string,
    leaseMs: number,
  ): Promise<ClaimedDelivery | undefined> {
    const row = await this.db
      .updateTable('broadcast_deliveries as d')
      .from(['broadcasts as b', 'users as u'])
      .set({
        status: 'sending',
        attempts: sql`d.attempts + 1`,
        claimed_by: token,
        claimed_until: msFromNow(leaseMs),
        updated_at: sql`now()`,
      })
      .whereRef('b.id', '=', 'd.broadcast_id')
      .whereRef('u.id', '=', 'd.user_id')
      .where('d.broadcast_id', '=', broadcastId)
      .where('d.user_id', '=', userId)
      .where((eb) =>
        eb.or([
          eb('d.status', '=', 'pending'),
          eb.and([
            eb('d.status', '=', 'sending'),
            eb.or([eb('d.claimed_until', 'is', null), eb('d.claimed_until', '<=', sql<Date>`now()`)]),
          ]),
        ]),
      )
      .where('b.status', '=', 'running')
      .returning([
        'd.attempts',
        'b.text',
        'b.photo',
        'b.button_text',
        'b.button_url',
        'u.banned_at',
        'u.bot_blocked_at',
        'u.notifications_enabled',
      ])
      .executeTakeFirst();
    if (!row) return undefined;
    return {
      attempts: row.attempts,
      text: row.text,
      photo: row.photo,
      button_text: row.button_text,
      button_url: row.button_url,
      banned: row.banned_at !== null,
      botBlocked: row.bot_blocked_at !== null,
      notificationsEnabled: row.notifications_enabled,
    };
  }

  /** The delivery, its broadcast's status and whether another attempt holds it. */
  async deliveryState(broadcastId: number, userId: number): Promise<DeliveryState | undefined> {
    const row = await this.db
      .selectFrom('broadcast_deliveries as d')
      .innerJoin('broadcasts as b', 'b.id', 'd.broadcast_id')
      .select([
        'd.status as status',
        'b.status as broadcastStatus',
        sql<number | null>`case when d.status = 'sending' and d.claimed_until > now()
          then ceil(extract(epoch from d.claimed_until - now()) * 1000) end`.as('heldForMs'),
      ])
      .where('d.broadcast_id', '=', broadcastId)
      .where('d.user_id', '=', userId)
      .executeTakeFirst();
    return row && { ...row, heldForMs: row.heldForMs === null ? null : Number(row.heldForMs) };
  }

  /** Record how a claimed delivery ended; false when `token` no longer holds it (nothing written). */
  async finish(
    broadcastId: number,
    userId: number,
    token: string,
    result: DeliveryResult,
    detail: { messageId?: number; error?: string } = {},
  ): Promise<boolean> {
    return this.updateClaimed(broadcastId, userId, token, {
      status: result,
      error: detail.error?.slice(0, 500) ?? null,
      telegram_message_id: detail.messageId ?? null,
      ...(result === 'sent' ? { sent_at: sql`now()` } : {}),
    });
  }

  /** Hand a claimed delivery back, to be sent by a later attempt (only while `token` holds it). */
  async release(broadcastId: number, userId: number, token: string, error?: string): Promise<void> {
    await this.updateClaimed(broadcastId, userId, token, {
      status: 'pending',
      error: error?.slice(0, 500) ?? null,
      claimed_by: null,
      claimed_until: null,
    });
  }

  /**
   * Write a delivery only while the attempt holding `token` still has it: a claim taken over after
   * its lease ran out must not be overwritten by the attempt that lost it. False when nothing was written.
   */
  private async updateClaimed(
    broadcastId: number,
    userId: number,
    token: string,
    patch: UpdateObject<DB, 'broadcast_deliveries'>,
  ): Promise<boolean> {
    const res = await this.db
      .updateTable('broadcast_deliveries')
      .set({ ...patch, updated_at: sql`now()` })
      .where('broadcast_id', '=', broadcastId)
      .where('user_id', '=', userId)
      .where('status', '=', 'sending')
      .where('claimed_by', '=', token)
      .executeTakeFirst();
    return Number(res.numUpdatedRows) > 0;
  }

  /**
   * Every claim is void: the in-process queue's jobs died with their process, so nothing is being
   * sent. The rows go back to pending for the tick to queue again.
   */
  async releaseAllClaims(): Promise<number> {
    const ofBroadcasts = (status: BroadcastStatus[]) =>
      this.db.selectFrom('broadcasts').select('id').where('status', 'in', status);
    const res = await this.db
      .updateTable('broadcast_deliveries')
      .set({ status: 'pending', claimed_by: null, claimed_until: null, updated_at: sql`now()` })
      .where('status', '=', 'sending')
      .where('broadcast_id', 'in', ofBroadcasts(['running', 'paused']))
      .executeTakeFirst();
    // A broadcast cancelled while its rows were held: nobody will send them now.
    await this.db
      .updateTable('broadcast_deliveries')
      .set({
        status: 'cancelled',
        error: 'broadcast cancelled',
        claimed_by: null,
        claimed_until: null,
        updated_at: sql`now()`,
      })
      .where('status', '=', 'sending')
      .where('broadcast_id', 'in', ofBroadcasts(['cancelled']))
      .execute();
    return Number(res.numUpdatedRows);
  }

  /** Running → completed once every delivery has ended; true when this call completed it. */
  async completeIfDone(id: number): Promise<boolean> {
    const open = (status: DeliveryStatus[]) =>
      this.db
        .selectFrom('broadcast_deliveries')
        .select('user_id')
        .where('broadcast_id', '=', id)
        .where('status', 'in', status);
    const res = await this.db
      .updateTable('broadcasts')
      .set({ status: 'completed', finished_at: sql`now()`, updated_at: sql`now()` })
      .where('id', '=', id)
      .where('status', '=', 'running')
      .where((eb) => eb.not(eb.exists(open(OPEN_DELIVERY))))
      // Not materialized yet (no rows at all) is not done; an empty audience is completed by start.
      .where((eb) => eb.exists(open(['sent', 'blocked', 'failed', 'cancelled'])))
      .executeTakeFirst();
    return Number(res.numUpdatedRows) > 0;
  }

  async counts(id: number): Promise<DeliveryCounts> {
    const rows = await this.db
      .selectFrom('broadcast_deliveries')
      .select(['status', (eb) => eb.fn.countAll<string>().as('n')])
      .where('broadcast_id', '=', id)
      .groupBy('status')
      .execute();
    const counts: DeliveryCounts = { pending: 0, sending: 0, sent: 0, blocked: 0, failed: 0, cancelled: 0 };
    for (const r of rows) counts[r.status] = Number(r.n);
    return counts;
  }

  /** Scheduled broadcasts whose time has come become running; returns their ids. */
  async startDue(): Promise<number[]> {
    const rows = await this.db
      .updateTable('broadcasts')
      .set({ status: 'running', started_at: sql`now()`, updated_at: sql`now()` })
      .where('status', '=', 'scheduled')
      .where('scheduled_at', '<=', sql<Date>`now()`)
      .returning('id')
      .execute();
    return rows.map((r) => r.id);
  }

  async runningIds(): Promise<number[]> {
    const rows = await this.db
      .selectFrom('broadcasts')
      .select('id')
      .where('status', '=', 'running')
      .orderBy('id')
      .execute();
    return rows.map((r) => r.id);
  }

  async countRunning(): Promise<number> {
    const r = await this.db
      .selectFrom('broadcasts')
      .select((eb) => eb.fn.countAll<string>().as('n'))
      .where('status', '=', 'running')
      .executeTakeFirstOrThrow();
    return Number(r.n);
  }

  /** Recipients of an audience: never banned, never bot-blocked, never opted out. */
  private audience(a: BroadcastAudience) {
    let q = this.db
      .selectFrom('users as u')
      .where('u.banned_at', 'is', null)
      .where('u.bot_blocked_at', 'is', null)
      .where('u.notifications_enabled', '=', true);
    switch (a.kind) {
      case 'all':
        break;
      case 'active':
        q = q.where('u.last_active_at', '>=', sql<Date>`now() - make_interval(days => ${a.days}::int)`);
        break;
      case 'plan':
        q = q.where((eb) =>
          eb.exists(
            eb
              .selectFrom('subscriptions as s')
              .select('s.id')
              .whereRef('s.user_id', '=', 'u.id')
              .where('s.plan', '=', a.plan)
              .where('s.status', '=', 'active'),
          ),
        );
        break;
      case 'language':
        // "ru" matches ru, ru-RU and ru_RU; a chosen language wins over Telegram's.
        q = q.where(
          sql<string>`lower(split_part(replace(coalesce(u.language, u.language_code), '_', '-'), '-', 1))`,
          '=',
          a.language.toLowerCase(),
        );
        break;
    }
    return q;
  }
}

/** Nobody holds the row: no lease, or it ran out. */
function unheld(eb: ExpressionBuilder<DB, 'broadcast_deliveries'>) {
  return eb.or([eb('claimed_until', 'is', null), eb('claimed_until', '<=', sql<Date>`now()`)]);
}
