import { type Kysely, sql } from 'kysely';

/**
 * Telegram Stars payments. `orders` are what an invoice sells: an opaque reference (the invoice
 * payload) and a snapshot of the product as it was when the order was made, so a later price or
 * catalogue change never alters it. `payments` holds every charge Telegram reported, keyed by its
 * `telegram_payment_charge_id` (unique: the same charge twice changes nothing), matched to an order
 * or kept as an orphan; `grant` records what it gave and what that replaced, so a refund reverts
 * it. `image_packs` are purchased images (never reset by the quota period), `image_credit_uses` one
 * row per image unit taken so it can be given back exactly once, `star_subscriptions` the state of
 * a monthly Star subscription (the first charge id, the paid period, renewal cancelled or not).
 *
 * `payments.user_id` has no foreign key on purpose: a money record outlives the user row.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable('orders')
    .addColumn('id', 'bigint', (c) => c.notNull().generatedAlwaysAsIdentity())
    .addColumn('reference', 'text', (c) => c.notNull())
    .addColumn('user_id', 'bigint', (c) => c.notNull())
    .addColumn('product_code', 'text', (c) => c.notNull())
    .addColumn('kind', 'text', (c) => c.notNull())
    .addColumn('title', 'text', (c) => c.notNull())
    .addColumn('price', 'integer', (c) => c.notNull())
    .addColumn('currency', 'text', (c) => c.notNull().defaultTo('XTR'))
    .addColumn('plan', 'text')
    .addColumn('days', 'integer')
    .addColumn('images', 'integer')
    .addColumn('status', 'text', (c) => c.notNull().defaultTo('created'))
    .addColumn('invoice_link', 'text')
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addColumn('expires_at', 'timestamptz', (c) => c.notNull())
    .addColumn('paid_at', 'timestamptz')
    .addColumn('updated_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addPrimaryKeyConstraint('pk_orders', ['id'])
    .addUniqueConstraint('uq_orders_reference', ['reference'])
    .addForeignKeyConstraint('fk_orders_user_id_users', ['user_id'], 'users', ['id'], (fk) =>
      fk.onDelete('cascade'),
    )
    .addCheckConstraint('ck_orders_reference', sql`octet_length(reference) between 1 and 128`)
    .addCheckConstraint('ck_orders_status', sql`status in ('created', 'paid', 'expired', 'cancelled')`)
    .addCheckConstraint('ck_orders_price', sql`price > 0`)
    .addCheckConstraint(
      'ck_orders_product',
      sql`(kind = 'plan' and plan is not null and days > 0)
        or (kind = 'pack' and images > 0)
        or (kind = 'subscription' and plan is not null)`,
    )
    .execute();
  await db.schema
    .createIndex('ix_orders_user_id_created_at')
    .on('orders')
    .columns(['user_id', 'created_at'])
    .execute();
  // The sweep expires open orders; only those are indexed.
  await db.schema
    .createIndex('ix_orders_expires_at')
    .on('orders')
    .column('expires_at')
    .where(sql<boolean>`status = 'created'`)
    .execute();

  await db.schema
    .createTable('payments')
    .addColumn('id', 'bigint', (c) => c.notNull().generatedAlwaysAsIdentity())
    .addColumn('telegram_payment_charge_id', 'text', (c) => c.notNull())
    .addColumn('provider_payment_charge_id', 'text')
    .addColumn('order_id', 'bigint')
    .addColumn('user_id', 'bigint', (c) => c.notNull())
    .addColumn('product_code', 'text')
    .addColumn('kind', 'text')
    .addColumn('currency', 'text', (c) => c.notNull())
    .addColumn('amount', 'integer', (c) => c.notNull())
    .addColumn('invoice_payload', 'text', (c) => c.notNull())
    .addColumn('status', 'text', (c) => c.notNull())
    .addColumn('orphan_reason', 'text')
    .addColumn('is_recurring', 'boolean', (c) => c.notNull().defaultTo(false))
    .addColumn('is_first_recurring', 'boolean', (c) => c.notNull().defaultTo(false))
    .addColumn('subscription_expires_at', 'timestamptz')
    .addColumn('grant', 'jsonb')
    .addColumn('raw_update', 'jsonb', (c) => c.notNull())
    .addColumn('refund_source', 'text')
    .addColumn('refund_requested_at', 'timestamptz')
    .addColumn('refund_attempts', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('refund_error', 'text')
    .addColumn('refunded_at', 'timestamptz')
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addColumn('updated_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addPrimaryKeyConstraint('pk_payments', ['id'])
    .addUniqueConstraint('uq_payments_telegram_payment_charge_id', ['telegram_payment_charge_id'])
    .addForeignKeyConstraint('fk_payments_order_id_orders', ['order_id'], 'orders', ['id'], (fk) =>
      fk.onDelete('set null'),
    )
    .addCheckConstraint(
      'ck_payments_status',
      sql`status in ('credited', 'orphan', 'refund_pending', 'refunded', 'refund_failed')`,
    )
    .addCheckConstraint(
      'ck_payments_orphan_reason',
      sql`orphan_reason is null or orphan_reason in ('unknown_order', 'foreign_order', 'amount_mismatch',
        'user_unknown', 'user_banned', 'order_already_paid', 'subscription_unknown', 'product_unavailable')`,
    )
    .addCheckConstraint('ck_payments_amount', sql`amount > 0`)
    .addCheckConstraint('ck_payments_refund_source', sql`refund_source in ('admin', 'auto', 'telegram')`)
    .execute();
  await db.schema
    .createIndex('ix_payments_user_id_created_at')
    .on('payments')
    .columns(['user_id', 'created_at'])
    .execute();
  await db.schema.createIndex('ix_payments_created_at').on('payments').column('created_at').execute();
  await db.schema.createIndex('ix_payments_order_id').on('payments').column('order_id').execute();
  // Orphans and refunds in flight are what the admin and the sweep look for.
  await db.schema
    .createIndex('ix_payments_status')
    .on('payments')
    .column('status')
    .where(sql<boolean>`status in ('orphan', 'refund_pending', 'refund_failed')`)
    .execute();

  await db.schema
    .createTable('image_packs')
    .addColumn('id', 'bigint', (c) => c.notNull().generatedAlwaysAsIdentity())
    .addColumn('payment_id', 'bigint', (c) => c.notNull())
    .addColumn('user_id', 'bigint', (c) => c.notNull())
    .addColumn('images_total', 'integer', (c) => c.notNull())
    .addColumn('images_left', 'integer', (c) => c.notNull())
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addColumn('refunded_at', 'timestamptz')
    .addPrimaryKeyConstraint('pk_image_packs', ['id'])
    .addUniqueConstraint('uq_image_packs_payment_id', ['payment_id'])
    .addForeignKeyConstraint('fk_image_packs_payment_id_payments', ['payment_id'], 'payments', ['id'])
    .addForeignKeyConstraint('fk_image_packs_user_id_users', ['user_id'], 'users', ['id'], (fk) =>
      fk.onDelete('cascade'),
    )
    .addCheckConstraint(
      'ck_image_packs_images',
      sql`images_total > 0 and images_left >= 0 and images_left <= images_total`,
    )
    .execute();
  // Taking an image looks for the user's oldest pack with images left.
  await db.schema
    .createIndex('ix_image_packs_user_id')
    .on('image_packs')
    .columns(['user_id', 'id'])
    .where(sql<boolean>`images_left > 0 and refunded_at is null`)
    .execute();

  await db.schema
    .createTable('image_credit_uses')
    .addColumn('id', 'bigint', (c) => c.notNull().generatedAlwaysAsIdentity())
    .addColumn('user_id', 'bigint', (c) => c.notNull())
    .addColumn('source', 'text', (c) => c.notNull())
    .addColumn('pack_id', 'bigint')
    .addColumn('period_start', 'timestamptz')
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addColumn('returned_at', 'timestamptz')
    .addPrimaryKeyConstraint('pk_image_credit_uses', ['id'])
    .addForeignKeyConstraint('fk_image_credit_uses_user_id_users', ['user_id'], 'users', ['id'], (fk) =>
      fk.onDelete('cascade'),
    )
    .addForeignKeyConstraint(
      'fk_image_credit_uses_pack_id_image_packs',
      ['pack_id'],
      'image_packs',
      ['id'],
      (fk) => fk.onDelete('cascade'),
    )
    .addCheckConstraint(
      'ck_image_credit_uses_source',
      sql`(source = 'plan' and pack_id is null and period_start is not null)
        or (source = 'pack' and pack_id is not null)`,
    )
    .execute();
  await db.schema
    .createIndex('ix_image_credit_uses_user_id')
    .on('image_credit_uses')
    .column('user_id')
    .execute();
  await db.schema
    .createIndex('ix_image_credit_uses_pack_id')
    .on('image_credit_uses')
    .column('pack_id')
    .execute();

  await db.schema
    .createTable('star_subscriptions')
    .addColumn('id', 'bigint', (c) => c.notNull().generatedAlwaysAsIdentity())
    .addColumn('user_id', 'bigint', (c) => c.notNull())
    .addColumn('order_id', 'bigint', (c) => c.notNull())
    .addColumn('telegram_payment_charge_id', 'text', (c) => c.notNull())
    .addColumn('product_code', 'text', (c) => c.notNull())
    .addColumn('plan', 'text', (c) => c.notNull())
    .addColumn('status', 'text', (c) => c.notNull().defaultTo('active'))
    .addColumn('period_end', 'timestamptz', (c) => c.notNull())
    .addColumn('renewal_canceled_at', 'timestamptz')
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addColumn('updated_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addPrimaryKeyConstraint('pk_star_subscriptions', ['id'])
    .addUniqueConstraint('uq_star_subscriptions_order_id', ['order_id'])
    .addUniqueConstraint('uq_star_subscriptions_telegram_payment_charge_id', ['telegram_payment_charge_id'])
    .addForeignKeyConstraint('fk_star_subscriptions_user_id_users', ['user_id'], 'users', ['id'], (fk) =>
      fk.onDelete('cascade'),
    )
    .addForeignKeyConstraint('fk_star_subscriptions_order_id_orders', ['order_id'], 'orders', ['id'], (fk) =>
      fk.onDelete('cascade'),
    )
    .addCheckConstraint('ck_star_subscriptions_status', sql`status in ('active', 'expired', 'refunded')`)
    .execute();
  await db.schema
    .createIndex('ix_star_subscriptions_user_id')
    .on('star_subscriptions')
    .column('user_id')
    .execute();
  await db.schema
    .createIndex('ix_star_subscriptions_period_end')
    .on('star_subscriptions')
    .column('period_end')
    .where(sql<boolean>`status = 'active'`)
    .execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.dropTable('star_subscriptions').execute();
  await db.schema.dropTable('image_credit_uses').execute();
  await db.schema.dropTable('image_packs').execute();
  await db.schema.dropTable('payments').execute();
  await db.schema.dropTable('orders').execute();
}
