import type { ColumnType, Generated, Insertable, Selectable, Updateable } from 'kysely';

type NullableTimestamp = ColumnType<Date | null, Date | string | null | undefined, Date | string | null>;
type Json<T> = ColumnType<T, string | T, string | T>;

export interface UsersTable {
  id: number;
  username: string | null;
  first_name: string;
  last_name: string | null;
  language_code: string | null;
  language: string | null;
  is_admin: Generated<boolean>;
  banned_at: NullableTimestamp;
  ban_reason: string | null;
  bot_blocked_at: NullableTimestamp;
  utm_source: string | null;
  notifications_enabled: Generated<boolean>;
  created_at: Generated<Date>;
  updated_at: Generated<Date>;
  last_active_at: Generated<Date>;
}

export interface SubscriptionsTable {
  id: Generated<number>;
  user_id: number;
  plan: string;
  status: Generated<'active' | 'expired'>;
  started_at: Generated<Date>;
  expires_at: NullableTimestamp;
  messages_limit: number;
  messages_used: Generated<number>;
  images_limit: number;
  images_used: Generated<number>;
  quota_period_start: Generated<Date>;
  updated_at: Generated<Date>;
}

export interface DialogsTable {
  id: Generated<number>;
  user_id: number;
  /** The chat the dialog lives in: the user's id for a private chat, else the group's id. */
  chat_id: number;
  title: string;
  system_prompt: string | null;
  is_active: Generated<boolean>;
  created_at: Generated<Date>;
  updated_at: Generated<Date>;
  /** Id of the newest user message; replies are due while it is above answered_up_to_id. */
  last_user_message_id: Generated<number>;
  answered_up_to_id: Generated<number>;
  /** /reset moves this past the newest message: older messages stay as history, not as context. */
  context_from_id: Generated<number>;
  summary: string | null;
  summary_up_to_id: Generated<number>;
  /** The reply lease: one generation per dialog at a time, whichever process holds it. */
  reply_token: string | null;
  reply_until: Date | null;
  /** An answer stored but not fully delivered yet (a retry finishes it without a new generation). */
  pending_answer_id: number | null;
}

export type MessageRole = 'system' | 'user' | 'assistant';

export interface MessagesTable {
  id: Generated<number>;
  dialog_id: number;
  role: MessageRole;
  content: string;
  metadata: ColumnType<Record<string, unknown>, string | undefined, string>;
  tokens: number | null;
  telegram_message_id: number | null;
  created_at: Generated<Date>;
}

export interface SettingsTable {
  key: string;
  value: Json<unknown>;
  description: string | null;
  updated_at: Generated<Date>;
}

export type BroadcastStatus = 'draft' | 'scheduled' | 'running' | 'paused' | 'completed' | 'cancelled';
export type BroadcastAudience =
  | { kind: 'all' }
  | { kind: 'active'; days: number }
  | { kind: 'plan'; plan: string }
  | { kind: 'language'; language: string };

export interface BroadcastsTable {
  id: Generated<number>;
  /** Telegram HTML, validated before saving. */
  text: string;
  photo: string | null;
  button_text: string | null;
  button_url: string | null;
  audience: Json<BroadcastAudience>;
  status: Generated<BroadcastStatus>;
  scheduled_at: NullableTimestamp;
  started_at: NullableTimestamp;
  finished_at: NullableTimestamp;
  total_recipients: Generated<number>;
  created_by: string | null;
  created_at: Generated<Date>;
  updated_at: Generated<Date>;
}

export type DeliveryStatus = 'pending' | 'sending' | 'sent' | 'blocked' | 'failed' | 'cancelled';

export interface BroadcastDeliveriesTable {
  broadcast_id: number;
  user_id: number;
  status: Generated<DeliveryStatus>;
  attempts: Generated<number>;
  error: string | null;
  telegram_message_id: number | null;
  sent_at: NullableTimestamp;
  updated_at: Generated<Date>;
  /** The attempt holding a 'sending' row: only it may record the result. */
  claimed_by: string | null;
  /** No other attempt may take the row before this (null: nobody holds it). */
  claimed_until: Date | null;
}

export interface NotificationLogTable {
  id: Generated<number>;
  user_id: number;
  kind: string;
  stage: Generated<number>;
  status: Generated<'sending' | 'sent' | 'blocked' | 'failed'>;
  created_at: Generated<Date>;
  updated_at: Generated<Date>;
}

export type AdminRole = 'owner' | 'admin' | 'viewer';

export interface AdminUsersTable {
  id: Generated<number>;
  username: string;
  password_hash: string;
  role: AdminRole;
  telegram_user_id: number | null;
  /** Must choose a new password before anything else (the first-start owner). */
  password_change_required: Generated<boolean>;
  /** The first-start owner whose generated or configured credential has not been used yet. */
  bootstrap_pending: Generated<boolean>;
  last_login_at: NullableTimestamp;
  disabled_at: NullableTimestamp;
  created_at: Generated<Date>;
  updated_at: Generated<Date>;
}

export interface AdminSessionsTable {
  /** SHA-256 of the session token; the token itself lives only in the cookie. */
  id: string;
  admin_user_id: number;
  csrf_token: string;
  ip: string | null;
  user_agent: string | null;
  created_at: Generated<Date>;
  last_seen_at: Generated<Date>;
  expires_at: Date;
}

export interface AdminAuditLogTable {
  id: Generated<number>;
  admin_user_id: number | null;
  admin_username: string;
  action: string;
  target_type: string | null;
  target_id: string | null;
  before: Json<unknown> | null;
  after: Json<unknown> | null;
  ip: string | null;
  created_at: Generated<Date>;
}

export type ProductKind = 'plan' | 'pack' | 'subscription';
export type OrderStatus = 'created' | 'paid' | 'expired' | 'cancelled';

/** An order: what one invoice sells, snapshotted when it was made. */
export interface OrdersTable {
  id: Generated<number>;
  /** The invoice payload: random, opaque, never a price or a product code. */
  reference: string;
  user_id: number;
  product_code: string;
  kind: ProductKind;
  title: string;
  price: number;
  currency: Generated<string>;
  plan: string | null;
  days: number | null;
  images: number | null;
  status: Generated<OrderStatus>;
  invoice_link: string | null;
  created_at: Generated<Date>;
  expires_at: Date;
  paid_at: NullableTimestamp;
  updated_at: Generated<Date>;
}

export type PaymentStatus = 'credited' | 'orphan' | 'refund_pending' | 'refunded' | 'refund_failed';
export type OrphanReason =
  | 'unknown_order'
  | 'foreign_order'
  | 'amount_mismatch'
  | 'user_unknown'
  | 'user_banned'
  | 'order_already_paid'
  | 'subscription_unknown'
  | 'product_unavailable';
export type RefundSource = 'admin' | 'auto' | 'telegram';

/** What a payment gave the user and what that replaced: enough to revert it exactly once. */
export type PaymentGrant =
  | {
      kind: 'plan';
      plan: string;
      /** The subscription row before the grant. */
      before: { plan: string; expires_at: string | null; messages_limit: number; images_limit: number };
      /** The plan's end the grant set (null: a plan with no end ran, left as it was), and the time it added. */
      expiresAt: string | null;
      addedMs: number;
      /** Set for Star subscription payments. */
      starSubscriptionId?: number;
    }
  | { kind: 'pack'; packId: number; images: number };

export interface PaymentsTable {
  id: Generated<number>;
  telegram_payment_charge_id: string;
  provider_payment_charge_id: string | null;
  order_id: number | null;
  user_id: number;
  product_code: string | null;
  kind: ProductKind | null;
  currency: string;
  amount: number;
  invoice_payload: string;
  status: PaymentStatus;
  orphan_reason: OrphanReason | null;
  is_recurring: Generated<boolean>;
  is_first_recurring: Generated<boolean>;
  subscription_expires_at: NullableTimestamp;
  grant: Json<PaymentGrant> | null;
  raw_update: Json<unknown>;
  refund_source: RefundSource | null;
  refund_requested_at: NullableTimestamp;
  refund_attempts: Generated<number>;
  refund_error: string | null;
  refunded_at: NullableTimestamp;
  created_at: Generated<Date>;
  updated_at: Generated<Date>;
}

export interface ImagePacksTable {
  id: Generated<number>;
  payment_id: number;
  user_id: number;
  images_total: number;
  images_left: number;
  created_at: Generated<Date>;
  refunded_at: NullableTimestamp;
}

export type ImageCreditSource = 'plan' | 'pack';

export interface ImageCreditUsesTable {
  id: Generated<number>;
  user_id: number;
  source: ImageCreditSource;
  pack_id: number | null;
  /** For a plan unit: the quota period it was taken from (giving it back after a reset is moot). */
  period_start: Date | null;
  created_at: Generated<Date>;
  returned_at: NullableTimestamp;
}

export type StarSubscriptionStatus = 'active' | 'expired' | 'refunded';

export interface StarSubscriptionsTable {
  id: Generated<number>;
  user_id: number;
  order_id: number;
  /** The first payment's charge: editUserStarSubscription takes it. */
  telegram_payment_charge_id: string;
  product_code: string;
  plan: string;
  status: Generated<StarSubscriptionStatus>;
  /** The latest subscription_expiration_date Telegram reported. */
  period_end: Date;
  /** Set while the user has turned renewal off from the bot. */
  renewal_canceled_at: NullableTimestamp;
  created_at: Generated<Date>;
  updated_at: Generated<Date>;
}

export type ImageJobStatus =
  | 'queued'
  | 'running'
  | 'delivering'
  | 'succeeded'
  | 'undelivered'
  | 'failed'
  | 'cancelled'
  | 'timed_out';
export type ImageJobSource = 'command' | 'dialog' | 'again' | 'variation';

/** Workflow parameters besides the prompts, as the job was queued with them. */
export interface ImageJobParams {
  seed: number;
  width?: number;
  height?: number;
  steps?: number;
  checkpoint?: string;
}

export interface ImageJobsTable {
  id: Generated<number>;
  user_id: number;
  chat_id: number;
  dialog_id: number | null;
  source: ImageJobSource;
  /** The delivered image an "again" or "variation" starts from. */
  parent_id: number | null;
  /** The AI answer whose dialog a "dialog" picture is drawn from. */
  source_message_id: number | null;
  /** Null until the worker writes it (dialog pictures, variations). */
  prompt: string | null;
  negative_prompt: string | null;
  workflow: string;
  params: Json<ImageJobParams>;
  nsfw: Generated<boolean>;
  status: Generated<ImageJobStatus>;
  /** The ComfyUI run: a new one only when a run failed in a way another run can fix. */
  run: Generated<number>;
  /** Random per job: prompt ids stay unique across databases that share a ComfyUI server. */
  run_key: string;
  prompt_id: string | null;
  backend: string | null;
  excluded_backends: ColumnType<string[], string[] | undefined, string[]>;
  attempts: Generated<number>;
  claim_token: string | null;
  lease_until: Date | null;
  deadline_at: NullableTimestamp;
  placeholder_message_id: number | null;
  object_key: string | null;
  telegram_file_id: string | null;
  telegram_message_id: number | null;
  error: string | null;
  quota_source: 'plan' | 'pack' | null;
  /** The image_credit_uses row of the unit taken: giving it back names it. */
  quota_use_id: number | null;
  quota_returned_at: NullableTimestamp;
  queued_at: Generated<Date>;
  started_at: NullableTimestamp;
  generated_at: NullableTimestamp;
  finished_at: NullableTimestamp;
  updated_at: Generated<Date>;
}

export interface DB {
  users: UsersTable;
  subscriptions: SubscriptionsTable;
  dialogs: DialogsTable;
  messages: MessagesTable;
  settings: SettingsTable;
  broadcasts: BroadcastsTable;
  broadcast_deliveries: BroadcastDeliveriesTable;
  notification_log: NotificationLogTable;
  admin_users: AdminUsersTable;
  admin_sessions: AdminSessionsTable;
  admin_audit_log: AdminAuditLogTable;
  orders: OrdersTable;
  payments: PaymentsTable;
  image_packs: ImagePacksTable;
  image_credit_uses: ImageCreditUsesTable;
  star_subscriptions: StarSubscriptionsTable;
  image_jobs: ImageJobsTable;
}

export type User = Selectable<UsersTable>;
export type NewUser = Insertable<UsersTable>;
export type UserUpdate = Updateable<UsersTable>;
export type Subscription = Selectable<SubscriptionsTable>;
export type Dialog = Selectable<DialogsTable>;
export type Message = Selectable<MessagesTable>;
export type Broadcast = Selectable<BroadcastsTable>;
export type BroadcastDelivery = Selectable<BroadcastDeliveriesTable>;
export type AdminUser = Selectable<AdminUsersTable>;
export type AdminSession = Selectable<AdminSessionsTable>;
export type AdminAuditEntry = Selectable<AdminAuditLogTable>;
export type Order = Selectable<OrdersTable>;
export type Payment = Selectable<PaymentsTable>;
export type ImagePack = Selectable<ImagePacksTable>;
export type StarSubscription = Selectable<StarSubscriptionsTable>;
export type ImageJob = Selectable<ImageJobsTable>;
