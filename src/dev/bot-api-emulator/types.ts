import type {
  BotCommand,
  Chat,
  InlineKeyboardMarkup,
  LabeledPrice,
  Message,
  MessageEntity,
  ReplyKeyboardMarkup,
  Update,
} from 'grammy/types';

export type { Chat, Message, MessageEntity, Update, User } from 'grammy/types';

/** Rate limits applied to send/edit methods, like Telegram's flood control. `null` turns one off. */
export interface FloodLimits {
  /** Calls per second over all chats (Telegram: about 30). */
  globalPerSecond: number | null;
  /** Calls per second into one chat (Telegram: about 1 with short bursts). */
  perChatPerSecond: number | null;
  /** How many calls one chat may burst before `perChatPerSecond` applies. */
  perChatBurst: number;
  /** Calls per minute into one group chat (Telegram: about 20). */
  perGroupPerMinute: number | null;
}

/** How a failing webhook endpoint is retried: exponential backoff between these bounds. */
export interface WebhookRetry {
  initialMs: number;
  maxMs: number;
  /** A delivery that takes longer than this counts as failed ("Read timeout expired"). */
  timeoutMs: number;
}

export interface EmulatorConfig {
  flood: FloodLimits;
  webhookRetry: WebhookRetry;
  /** How long the bot has to answer a pre_checkout_query (Telegram: 10 s). */
  preCheckoutTimeoutMs: number;
}

/**
 * One-shot failure: the next `count` matching calls answer with this error instead of running, or
 * (`applied`) after running, or only late (`delayMs`).
 */
export interface FaultSpec {
  /** Method name (case-insensitive). Without it any method but getUpdates matches. */
  method?: string;
  /** Only calls whose `chat_id` is this chat. */
  chatId?: number;
  /** How many calls fail; 1 when left out. */
  count?: number;
  /** Let this many matching calls succeed before the failures start (0 when left out). */
  skip?: number;
  /** HTTP status and `error_code`, e.g. 429, 500, 400. Required unless `delayMs` is given. */
  errorCode?: number;
  /** Telegram-like description; a standard one for the code when left out. */
  description?: string;
  /** For 429: the `parameters.retry_after` in seconds (1 when left out). */
  retryAfter?: number;
  /**
   * Run the method first (its effects stay), then answer with the error: Telegram did it but the
   * answer was lost. Without it the call fails before anything happens.
   */
  applied?: boolean;
  /**
   * Hold the answer this long (ms): a slow Telegram, or a time-out for a client with a shorter
   * timeout. Without `errorCode` the real answer comes late.
   */
  delayMs?: number;
}

export interface ActiveFault {
  id: number;
  count: number;
  method?: string;
  chatId?: number;
  skip?: number;
  errorCode?: number;
  description?: string;
  retryAfter?: number;
  applied?: true;
  delayMs?: number;
}

/** An uploaded file as the emulator received it. */
export interface UploadedFile {
  kind: 'upload';
  filename: string;
  mimetype: string;
  data: Buffer;
}

/** One Bot API call as the emulator saw it, in arrival order. */
export interface CallRecord {
  seq: number;
  /** Epoch milliseconds. */
  at: number;
  method: string;
  chat_id?: number;
  /** Parameters with uploads replaced by `{ upload: { filename, mimetype, size } }`. */
  params: Record<string, unknown>;
  ok: boolean;
  result?: unknown;
  error_code?: number;
  description?: string;
  /** Set when an injected fault shaped the answer; `applied`: the method ran before the error. */
  fault?: { id: number; applied: boolean };
}

export interface MessageVersion {
  text?: string;
  entities?: MessageEntity[];
  caption?: string;
  caption_entities?: MessageEntity[];
  reply_markup?: InlineKeyboardMarkup;
  /** Unix seconds of the edit that produced this version; the original has none. */
  edit_date?: number;
}

/** A message of a conversation: the Telegram Message plus what the emulator knows about it. */
export type ConversationMessage = Message & {
  seq: number;
  /** True for messages the bot sent, false for messages injected as if a user wrote them. */
  outgoing: boolean;
  deleted: boolean;
  deleted_at?: number;
  /** Earlier versions, oldest first (empty when never edited). */
  history: MessageVersion[];
};

export interface DraftState {
  text: string;
  entities?: MessageEntity[];
  at: number;
}

export interface DraftRecord {
  chat_id: number;
  draft_id: number;
  message_thread_id?: number;
  text: string;
  entities?: MessageEntity[];
  /** Every state the bot streamed, in order. */
  states: DraftState[];
  /** False once the bot sent a real message into the chat, which replaces drafts on clients. */
  active: boolean;
  updated_at: number;
}

export interface ChatActionRecord {
  chat_id: number;
  action: string;
  message_thread_id?: number;
  at: number;
}

/** What the bot put in an invoice (`sendInvoice` and `createInvoiceLink` take the same). */
export interface InvoiceFields {
  title: string;
  description: string;
  payload: string;
  currency: string;
  prices: LabeledPrice[];
  total_amount: number;
  subscription_period?: number;
}

export interface InvoiceRecord extends InvoiceFields {
  seq: number;
  /** `sendInvoice` or `createInvoiceLink`. */
  kind: 'message' | 'link';
  chat_id?: number;
  message_id?: number;
  link?: string;
  at: number;
}

/** One charge: a successful payment in the ledger (Stars or not). */
export interface PaymentRecord {
  telegram_payment_charge_id: string;
  provider_payment_charge_id: string;
  user_id: number;
  currency: string;
  total_amount: number;
  invoice_payload: string;
  /** Subscription charges: the id of the subscription (its first charge's id). */
  subscription_id?: string;
  subscription_expiration_date?: number;
  is_recurring?: true;
  is_first_recurring?: true;
  /** Every update that carried this charge (re-deliveries and duplicates included). */
  update_ids: number[];
  refunded: boolean;
  refunded_at?: number;
  /** Epoch milliseconds. */
  at: number;
}

export interface RefundRecord {
  user_id: number;
  telegram_payment_charge_id: string;
  currency: string;
  total_amount: number;
  invoice_payload: string;
  /** The update with the `refunded_payment` message. */
  update_id: number;
  at: number;
}

/** A Star subscription started by a payment for a `createInvoiceLink` with `subscription_period`. */
export interface StarSubscriptionRecord {
  /** The first charge's `telegram_payment_charge_id`, which editUserStarSubscription takes. */
  id: string;
  user_id: number;
  invoice_payload: string;
  currency: string;
  total_amount: number;
  period: number;
  /** Unix seconds; each renewal adds one period. */
  expiration_date: number;
  /** Cancelled by the bot (editUserStarSubscription): it is not renewed any more. */
  is_canceled: boolean;
  /** Every charge of the subscription, first one first. */
  charge_ids: string[];
  at: number;
}

export interface CallbackAnswerRecord {
  callback_query_id: string;
  chat_id?: number;
  message_id?: number;
  text?: string;
  show_alert: boolean;
  url?: string;
  cache_time?: number;
  at: number;
}

/** Every answerPreCheckoutQuery call for a known query, accepted or not. */
export interface PreCheckoutAnswerRecord {
  pre_checkout_query_id: string;
  user_id: number;
  ok: boolean;
  error_message?: string;
  at: number;
  /** Milliseconds since the query was created. */
  latency_ms: number;
  /** False when Telegram refused the answer: too late, or the query was already answered. */
  accepted: boolean;
  rejected?: 'late' | 'already_answered';
}

export interface CommandsRecord {
  scope: Record<string, unknown>;
  language_code: string;
  commands: BotCommand[];
}

export interface ConversationView {
  chat: Chat;
  /** Both sides in order; `outgoing` tells the bot's messages apart. */
  messages: ConversationMessage[];
  drafts: DraftRecord[];
  chat_actions: ChatActionRecord[];
  /** The reply keyboard the bot last set in this chat, if any is shown. */
  reply_keyboard?: ReplyKeyboardMarkup;
}

export interface InjectedUpdateRecord {
  update: Update;
  injected_at: number;
  /** Delivered to getUpdates at least once, or accepted by the webhook. */
  delivered: boolean;
  /** Dropped because the bot did not subscribe to its type. */
  filtered: boolean;
}

export type EmulatorEventType =
  | 'update'
  | 'message'
  | 'message_edited'
  | 'message_deleted'
  | 'draft'
  | 'chat_action'
  | 'callback_answer'
  | 'invoice'
  | 'pre_checkout_answer'
  | 'payment'
  | 'refund'
  | 'subscription_edited'
  | 'webhook_error'
  | 'reset';

/** What the SSE stream sends, one JSON object per `data:` line. */
export interface EmulatorEvent {
  seq: number;
  type: EmulatorEventType;
  at: number;
  chat_id?: number;
  data: Record<string, unknown>;
}

export interface EmulatorStats {
  total_calls: number;
  calls_by_method: Record<string, number>;
  errors_by_code: Record<string, number>;
  too_many_requests: number;
  forbidden: number;
  updates_injected: number;
  pending_updates: number;
  messages_sent: number;
  chats: number;
}
