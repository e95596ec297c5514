import { errorMessage } from '../../platform/errors.js';

/** A message for one chat: a broadcast or a reminder. */
export interface OutgoingMessage {
  text: string;
  /** Send `text` with `parse_mode: "HTML"`; otherwise as plain text. */
  html: boolean;
  /** URL or Telegram file_id; `text` becomes its caption. */
  photo?: string | null | undefined;
  /** One URL button under the message. */
  button?: { text: string; url: string } | null | undefined;
}

/**
 * How one send ended, in the terms delivery cares about:
 * - `rate_limited`: Telegram's flood control (429) — wait `retryAfterMs`, then try again;
 * - `blocked`: 403 — the user blocked the bot or is gone;
 * - `rejected`: 400 — this message can never reach this chat (chat not found, bad file…);
 * - `unavailable`: 5xx, network or timeout — may work later.
 */
export type SendOutcome =
  /** `photoFileId`: Telegram's id of a sent photo, to send it again without Telegram fetching a URL. */
  | { kind: 'sent'; messageId: number; photoFileId?: string | undefined }
  | { kind: 'rate_limited'; retryAfterMs: number }
  | { kind: 'blocked'; description: string }
  | { kind: 'rejected'; description: string }
  | { kind: 'unavailable'; description: string };

/** How one delivery (a broadcast message or a reminder) ended: the job's result. */
export type DeliveryOutcome =
  | { kind: 'sent' | 'blocked' | 'failed' | 'skipped'; detail?: string }
  | { kind: 'rate_limited'; retryAfterMs: number }
  /** Another attempt holds the delivery: run this one again in `retryInMs`. */
  | { kind: 'busy'; retryInMs: number; detail: string };

/** Telegram could not be reached or failed (5xx, network): the job retries with backoff. */
export class DeliveryUnavailableError extends Error {
  override name = 'DeliveryUnavailableError';
  constructor(
    readonly description: string,
    /** What was being delivered, e.g. "broadcast 3 to 42". */
    readonly what: string,
  ) {
    super(`${what} failed: ${description}`);
  }
}

/** The one thing broadcasts and reminders need of Telegram. Never throws for Bot API answers. */
export interface MessageSender {
  send(chatId: number, message: OutgoingMessage, signal?: AbortSignal): Promise<SendOutcome>;
}

interface SendOptions {
  parse_mode?: 'HTML';
  caption?: string;
  reply_markup?: { inline_keyboard: { text: string; url: string }[][] };
}

/**
 * The part of a Bot API client (grammY's `Api`) a sender uses. It must not retry by itself: a 429
 * has to reach the caller, which pauses the whole delivery queue instead of one request. `Signal`
 * is the client's AbortSignal type (grammY declares a shim's; at run time it takes the platform's).
 */
export interface TelegramSendApi<Signal = AbortSignal> {
  sendMessage(
    chatId: number,
    text: string,
    other?: SendOptions,
    signal?: Signal,
  ): Promise<{ message_id: number }>;
  sendPhoto(
    chatId: number,
    photo: string,
    other?: SendOptions,
    signal?: Signal,
  ): Promise<{ message_id: number; photo?: { file_id: string }[] }>;
}

interface BotApiErrorShape {
  error_code: number;
  description?: string;
  parameters?: { retry_after?: number };
}

function isBotApiError(err: unknown): err is BotApiErrorShape {
  return (
    typeof err === 'object' &&
    err !== null &&
    typeof (err as { error_code?: unknown }).error_code === 'number'
  );
}

/** Maps a thrown Bot API error (or a network failure) to a SendOutcome. */
export function classifySendError(err: unknown): Exclude<SendOutcome, { kind: 'sent' }> {
  if (!isBotApiError(err)) return { kind: 'unavailable', description: errorMessage(err) };
  const description = err.description ?? `error ${err.error_code}`;
  switch (err.error_code) {
    case 429: {
      const seconds = err.parameters?.retry_after;
      const retryAfterMs = Math.max(1, typeof seconds === 'number' && seconds > 0 ? seconds : 1) * 1_000;
      return { kind: 'rate_limited', retryAfterMs };
    }
    case 403:
      return { kind: 'blocked', description };
    case 400:
      return { kind: 'rejected', description };
    default:
      return { kind: 'unavailable', description };
  }
}

/** A MessageSender over the Bot API: sendMessage, or sendPhoto with the text as its caption. */
export function telegramSender<Signal>(api: TelegramSendApi<Signal>): MessageSender {
  return {
    async send(chatId, message, abort) {
      const signal = abort as Signal | undefined;
      const other: SendOptions = message.html ? { parse_mode: 'HTML' } : {};
      if (message.button) other.reply_markup = { inline_keyboard: [[message.button]] };
      try {
        if (message.photo) {
          const sent = await api.sendPhoto(
            chatId,
            message.photo,
            { ...other, caption: message.text },
            signal,
          );
          return { kind: 'sent', messageId: sent.message_id, photoFileId: sent.photo?.at(-1)?.file_id };
        }
        const sent = await api.sendMessage(chatId, message.text, other, signal);
        return { kind: 'sent', messageId: sent.message_id };
      } catch (err) {
        return classifySendError(err);
      }
    },
  };
}
