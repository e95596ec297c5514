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
  failed_logins: Generated<number>;
  locked_until: NullableTimestamp;
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
  quota_ref: string | null;
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
export type ImageJob = Selectable<ImageJobsTable>;
