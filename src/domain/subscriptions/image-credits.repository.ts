import { sql } from 'kysely';
import type { ImagePack } from '../../platform/db/schema.js';
import { CachedRowsRepository } from '../../platform/db/transactor.js';

/** A unit taken, as recorded: what giving it back needs. */
export interface CreditUse {
  id: number;
  user_id: number;
  source: 'plan' | 'pack';
  pack_id: number | null;
}

/** Purchased images (image_packs) are cached by user id: every write of them goes through `write`. */
export class ImageCreditsRepository extends CachedRowsRepository {
  /** One image from the user's oldest pack with images left; the pack's id, or undefined. */
  async takeFromPack(userId: number): Promise<number | undefined> {
    const oldest = this.db
      .selectFrom('image_packs')
      .select('id')
      .where('user_id', '=', userId)
      .where('images_left', '>', 0)
      .where('refunded_at', 'is', null)
      .orderBy('id')
      .limit(1);
    const row = await this.write(
      (r) => (r ? [userId] : []),
      () =>
        this.db
          .updateTable('image_packs')
          .set({ images_left: sql`images_left - 1` })
          .where('id', '=', oldest)
          .where('images_left', '>', 0)
          .returning('id')
          .executeTakeFirst(),
    );
    return row?.id;
  }

  /** Record a plan unit with the period it came from, copied in SQL (full timestamp precision). */
  async recordPlanUse(userId: number): Promise<number> {
    const row = await this.db
      .insertInto('image_credit_uses')
      .columns(['user_id', 'source', 'period_start'])
      .expression(
        this.db
          .selectFrom('subscriptions')
          .select(['user_id', sql<string>`'plan'`.as('source'), 'quota_period_start'])
          .where('user_id', '=', userId),
      )
      .returning('id')
      .executeTakeFirstOrThrow();
    return row.id;
  }

  async recordPackUse(userId: number, packId: number): Promise<number> {
    const row = await this.db
      .insertInto('image_credit_uses')
      .values({ user_id: userId, source: 'pack', pack_id: packId })
      .returning('id')
      .executeTakeFirstOrThrow();
    return row.id;
  }

  /** Mark a use returned; undefined when it does not exist or was returned already. */
  markReturned(useId: number): Promise<CreditUse | undefined> {
    return this.db
      .updateTable('image_credit_uses')
      .set({ returned_at: sql`now()` })
      .where('id', '=', useId)
      .where('returned_at', 'is', null)
      .returning(['id', 'user_id', 'source', 'pack_id'])
      .executeTakeFirst();
  }

  /** Give a pack image back, unless the pack was refunded meanwhile. */
  async returnToPack(packId: number): Promise<boolean> {
    const row = await this.write(
      (r) => (r ? [r.user_id] : []),
      () =>
        this.db
          .updateTable('image_packs')
          .set({ images_left: sql`images_left + 1` })
          .where('id', '=', packId)
          .where('refunded_at', 'is', null)
          .where('images_left', '<', sql<number>`images_total`)
          .returning('user_id')
          .executeTakeFirst(),
    );
    return row !== undefined;
  }

  insertPack(pack: { payment_id: number; user_id: number; images: number }): Promise<ImagePack> {
    return this.write(
      () => [pack.user_id],
      () =>
        this.db
          .insertInto('image_packs')
          .values({
            payment_id: pack.payment_id,
            user_id: pack.user_id,
            images_total: pack.images,
            images_left: pack.images,
          })
          .returningAll()
          .executeTakeFirstOrThrow(),
    );
  }

  /** Empty a pack for good; the images it still had, or undefined when it was revoked already. */
  async revokePack(packId: number): Promise<number | undefined> {
    const rows = await this.write(
      (r) => r.map((row) => row.user_id),
      async () =>
        (
          await sql<{ images_left: number; user_id: number }>`
            update image_packs p set images_left = 0, refunded_at = now()
            from (select id, images_left from image_packs where id = ${packId} for update) old
            where p.id = old.id and p.refunded_at is null
            returning old.images_left, p.user_id`.execute(this.db)
        ).rows,
    );
    return rows[0]?.images_left;
  }

  async imagesLeft(userId: number): Promise<number> {
    const row = await this.db
      .selectFrom('image_packs')
      .select((eb) => eb.fn.coalesce(eb.fn.sum<number>('images_left'), sql<number>`0`).as('n'))
      .where('user_id', '=', userId)
      .where('refunded_at', 'is', null)
      .executeTakeFirstOrThrow();
    return Number(row.n);
  }

  packs(userId: number): Promise<ImagePack[]> {
    return this.db
      .selectFrom('image_packs')
      .selectAll()
      .where('user_id', '=', userId)
      .orderBy('id', 'desc')
      .limit(100)
      .execute();
  }
}
