import { type Insertable, sql, type Updateable } from 'kysely';
import type {
  Order,
  OrderStatus,
  OrdersTable,
  Payment,
  PaymentGrant,
  PaymentStatus,
  PaymentsTable,
  ProductKind,
  StarSubscription,
  StarSubscriptionStatus,
  StarSubscriptionsTable,
} from '../../platform/db/schema.js';
import { msAgo, msFromNow } from '../../platform/db/sql-time.js';
import { CachedRowsRepository } from '../../platform/db/transactor.js';

/** The filters of the admin's payment list; `beforeId` is the keyset cursor. */
export interface PaymentSearch {
  status?: PaymentStatus | 'orphaned' | undefined;
  product?: string | undefined;
  userId?: number | undefined;
  from?: Date | undefined;
  to?: Date | undefined;
  beforeId?: number | undefined;
  limit: number;
}

export interface DayAmount {
  /** YYYY-MM-DD (UTC). */
  day: string;
  stars: number;
  payments: number;
}

/** The snapshot an open order must still match to be reused for the same product. */
export interface OrderSnapshot {
  product_code: string;
  kind: ProductKind;
  title: string;
  price: number;
  plan: string | null;
  days: number | null;
  images: number | null;
}

const n = (v: unknown) => Number(v ?? 0);

/** Of its tables only star_subscriptions is cached (by user id): every write of it goes through `write`. */
export class PaymentsRepository extends CachedRowsRepository {
  // --- orders ---------------------------------------------------------------------------

  insertOrder(values: Insertable<OrdersTable>): Promise<Order> {
    return this.db.insertInto('orders').values(values).returningAll().executeTakeFirstOrThrow();
  }

  findOrder(id: number): Promise<Order | undefined> {
    return this.db.selectFrom('orders').selectAll().where('id', '=', id).executeTakeFirst();
  }

  findOrderByReference(reference: string): Promise<Order | undefined> {
    return this.db.selectFrom('orders').selectAll().where('reference', '=', reference).executeTakeFirst();
  }

  /** The order, locked until the transaction ends: every charge of one order is handled in turn. */
  findOrderByReferenceForUpdate(reference: string): Promise<Order | undefined> {
    return this.db
      .selectFrom('orders')
      .selectAll()
      .where('reference', '=', reference)
      .forUpdate()
      .executeTakeFirst();
  }

  /** An open order of this user for exactly this snapshot, valid for at least `minLeftMs` more. */
  findOpenOrder(userId: number, snap: OrderSnapshot, minLeftMs: number): Promise<Order | undefined> {
    return this.db
      .selectFrom('orders')
      .selectAll()
      .where('user_id', '=', userId)
      .where('status', '=', 'created')
      .where('product_code', '=', snap.product_code)
      .where('kind', '=', snap.kind)
      .where('title', '=', snap.title)
      .where('price', '=', snap.price)
      .where((eb) => eb('plan', 'is not distinct from', snap.plan))
      .where((eb) => eb('days', 'is not distinct from', snap.days))
      .where((eb) => eb('images', 'is not distinct from', snap.images))
      .where('expires_at', '>', msFromNow(minLeftMs))
      .orderBy('id', 'desc')
      .limit(1)
      .executeTakeFirst();
  }

  transitionOrder(
    id: number,
    from: readonly OrderStatus[],
    patch: Updateable<OrdersTable> & { status: OrderStatus },
  ): Promise<Order | undefined> {
    return this.db
      .updateTable('orders')
      .set({ ...patch, updated_at: sql`now()` })
      .where('id', '=', id)
      .where('status', 'in', [...from])
      .returningAll()
      .executeTakeFirst();
  }

  async setInvoiceLink(id: number, link: string): Promise<void> {
    await this.db
      .updateTable('orders')
      .set({ invoice_link: link, updated_at: sql`now()` })
      .where('id', '=', id)
      .execute();
  }

  /** Open orders past their end become expired, at most `limit` per call. */
  async expireOrders(limit: number): Promise<number> {
    const r = await sql`
      with due as (
        select id from orders where status = 'created' and expires_at <= now()
        order by expires_at limit ${limit} for update skip locked
      )
      update orders o set status = 'expired', updated_at = now() from due where o.id = due.id`.execute(
      this.db,
    );
    return Number(r.numAffectedRows ?? 0);
  }

  // --- payments -------------------------------------------------------------------------

  findPayment(id: number): Promise<Payment | undefined> {
    return this.db.selectFrom('payments').selectAll().where('id', '=', id).executeTakeFirst();
  }

  findPaymentForUpdate(id: number): Promise<Payment | undefined> {
    return this.db.selectFrom('payments').selectAll().where('id', '=', id).forUpdate().executeTakeFirst();
  }

  findPaymentByCharge(chargeId: string): Promise<Payment | undefined> {
    return this.db
      .selectFrom('payments')
      .selectAll()
      .where('telegram_payment_charge_id', '=', chargeId)
      .executeTakeFirst();
  }

  /** Insert a charge once: undefined when a payment with this charge id exists (it is left as it is). */
  insertPayment(values: Insertable<PaymentsTable>): Promise<Payment | undefined> {
    return this.db
      .insertInto('payments')
      .values(values)
      .onConflict((oc) => oc.column('telegram_payment_charge_id').doNothing())
      .returningAll()
      .executeTakeFirst();
  }

  transitionPayment(
    id: number,
    from: readonly PaymentStatus[],
    patch: Updateable<PaymentsTable> & { status: PaymentStatus },
  ): Promise<Payment | undefined> {
    return this.db
      .updateTable('payments')
      .set({ ...patch, updated_at: sql`now()` })
      .where('id', '=', id)
      .where('status', 'in', [...from])
      .returningAll()
      .executeTakeFirst();
  }

  async setGrant(id: number, grant: PaymentGrant): Promise<void> {
    await this.db
      .updateTable('payments')
      .set({ grant: JSON.stringify(grant), updated_at: sql`now()` })
      .where('id', '=', id)
      .execute();
  }

  /** Counted (and committed) before each refundStarPayment call: a later attempt reconciles first. */
  async noteRefundAttempt(id: number): Promise<void> {
    await this.db
      .updateTable('payments')
      .set({ refund_attempts: sql`refund_attempts + 1`, updated_at: sql`now()` })
      .where('id', '=', id)
      .where('status', '=', 'refund_pending')
      .execute();
  }

  /** Refunds requested more than `olderThanMs` ago and still pending: their job may have been lost. */
  async stalePendingRefunds(olderThanMs: number, limit: number): Promise<number[]> {
    const rows = await this.db
      .selectFrom('payments')
      .select('id')
      .where('status', '=', 'refund_pending')
      .where('refund_requested_at', '<', msAgo(olderThanMs))
      .orderBy('id')
      .limit(limit)
      .execute();
    return rows.map((r) => r.id);
  }

  search(f: PaymentSearch): Promise<Payment[]> {
    let q = this.db.selectFrom('payments').selectAll().orderBy('id', 'desc').limit(f.limit);
    if (f.status === 'orphaned') q = q.where('orphan_reason', 'is not', null);
    else if (f.status) q = q.where('status', '=', f.status);
    if (f.product) q = q.where('product_code', '=', f.product);
    if (f.userId !== undefined) q = q.where('user_id', '=', f.userId);
    if (f.from) q = q.where('created_at', '>=', f.from);
    if (f.to) q = q.where('created_at', '<', f.to);
    if (f.beforeId !== undefined) q = q.where('id', '<', f.beforeId);
    return q.execute();
  }

  userPayments(userId: number, limit: number): Promise<Payment[]> {
    return this.db
      .selectFrom('payments')
      .selectAll()
      .where('user_id', '=', userId)
      .orderBy('id', 'desc')
      .limit(limit)
      .execute();
  }

  /** The user's latest payments with the title of what they bought (null for orphans). */
  userPaymentsWithTitles(userId: number, limit: number): Promise<(Payment & { title: string | null })[]> {
    return this.db
      .selectFrom('payments as p')
      .leftJoin('orders as o', 'o.id', 'p.order_id')
      .selectAll('p')
      .select('o.title')
      .where('p.user_id', '=', userId)
      .orderBy('p.id', 'desc')
      .limit(limit)
      .execute();
  }

  async countByStatus(): Promise<Record<string, number>> {
    const rows = await this.db
      .selectFrom('payments')
      .select(['status', (eb) => eb.fn.countAll<string>().as('n')])
      .where('status', 'in', ['orphan', 'refund_pending', 'refund_failed'])
      .groupBy('status')
      .execute();
    return Object.fromEntries(rows.map((r) => [r.status, n(r.n)]));
  }

  /** Stars and payments received per UTC day since `since` (refunded ones included: they were received). */
  async receivedPerDay(since: Date): Promise<DayAmount[]> {
    const r = await sql<{ day: string; stars: string; payments: string }>`
      select to_char(created_at at time zone 'UTC', 'YYYY-MM-DD') as day,
             sum(amount) as stars, count(*) as payments
      from payments where created_at >= ${since} and currency = 'XTR'
      group by 1 order by 1`.execute(this.db);
    return r.rows.map((x) => ({ day: x.day, stars: n(x.stars), payments: n(x.payments) }));
  }

  /** Stars refunded since `since`. */
  async refundedSince(since: Date): Promise<number> {
    const r = await this.db
      .selectFrom('payments')
      .select((eb) => eb.fn.coalesce(eb.fn.sum<string>('amount'), sql<string>`0`).as('n'))
      .where('status', '=', 'refunded')
      .where('refunded_at', '>=', since)
      .executeTakeFirstOrThrow();
    return n(r.n);
  }

  /** Users with a payment that was credited (and not refunded), since `since` or ever. */
  async payingUsers(since?: Date): Promise<number> {
    let q = this.db
      .selectFrom('payments')
      .select((eb) => eb.fn.count<string>('user_id').distinct().as('n'))
      .where('status', '=', 'credited');
    if (since) q = q.where('created_at', '>=', since);
    return n((await q.executeTakeFirstOrThrow()).n);
  }

  async userCount(): Promise<number> {
    const r = await this.db
      .selectFrom('users')
      .select((eb) => eb.fn.countAll<string>().as('n'))
      .executeTakeFirstOrThrow();
    return n(r.n);
  }

  // --- Star subscriptions ---------------------------------------------------------------

  insertStarSubscription(values: Insertable<StarSubscriptionsTable>): Promise<StarSubscription> {
    return this.write(
      (r) => [r.user_id],
      () => this.db.insertInto('star_subscriptions').values(values).returningAll().executeTakeFirstOrThrow(),
    );
  }

  findStarSubscriptionByOrderForUpdate(orderId: number): Promise<StarSubscription | undefined> {
    return this.db
      .selectFrom('star_subscriptions')
      .selectAll()
      .where('order_id', '=', orderId)
      .forUpdate()
      .executeTakeFirst();
  }

  findStarSubscriptionForUpdate(id: number): Promise<StarSubscription | undefined> {
    return this.db
      .selectFrom('star_subscriptions')
      .selectAll()
      .where('id', '=', id)
      .forUpdate()
      .executeTakeFirst();
  }

  /** The user's running Star subscription (paid period not over), newest first. */
  activeStarSubscription(userId: number): Promise<StarSubscription | undefined> {
    return this.db
      .selectFrom('star_subscriptions')
      .selectAll()
      .where('user_id', '=', userId)
      .where('status', '=', 'active')
      .where('period_end', '>', sql<Date>`now()`)
      .orderBy('id', 'desc')
      .limit(1)
      .executeTakeFirst();
  }

  starSubscriptions(userId: number): Promise<StarSubscription[]> {
    return this.db
      .selectFrom('star_subscriptions')
      .selectAll()
      .where('user_id', '=', userId)
      .orderBy('id', 'desc')
      .limit(20)
      .execute();
  }

  transitionStarSubscription(
    id: number,
    from: readonly StarSubscriptionStatus[],
    patch: Updateable<StarSubscriptionsTable> & { status: StarSubscriptionStatus },
  ): Promise<StarSubscription | undefined> {
    return this.write(
      (r) => (r ? [r.user_id] : []),
      () =>
        this.db
          .updateTable('star_subscriptions')
          .set({ ...patch, updated_at: sql`now()` })
          .where('id', '=', id)
          .where('status', 'in', [...from])
          .returningAll()
          .executeTakeFirst(),
    );
  }

  /** Active subscriptions whose paid period ended more than `graceMs` ago (no renewal came). */
  async expireStarSubscriptions(graceMs: number): Promise<number> {
    const rows = await this.write(
      (r) => r.map((row) => row.user_id),
      () =>
        this.db
          .updateTable('star_subscriptions')
          .set({ status: 'expired', updated_at: sql`now()` })
          .where('status', '=', 'active')
          .where('period_end', '<', msAgo(graceMs))
          .returning('user_id')
          .execute(),
    );
    return rows.length;
  }
}
