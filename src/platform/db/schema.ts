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
  title: string;
  system_prompt: string | null;
  is_active: Generated<boolean>;
  created_at: Generated<Date>;
  updated_at: Generated<Date>;
}

export type MessageRole = 'system' | 'user' | 'assistant';

export interface MessagesTable {
  id: Generated<number>;
  dialog_id: number;
  role: MessageRole;
  content: string;
  metadata: Generated<Json<Record<string, unknown>>>;
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

export interface DB {
  users: UsersTable;
  subscriptions: SubscriptionsTable;
  dialogs: DialogsTable;
  messages: MessagesTable;
  settings: SettingsTable;
}

export type User = Selectable<UsersTable>;
export type NewUser = Insertable<UsersTable>;
export type UserUpdate = Updateable<UsersTable>;
export type Subscription = Selectable<SubscriptionsTable>;
export type Dialog = Selectable<DialogsTable>;
export type Message = Selectable<MessagesTable>;
