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
 * - `rate_limited`: flood control — wait `retryAfterMs`, then try again;
 * - `blocked`: the user blocked the bot or is gone — mark them, send them nothing more;
 * - `rejected`: this message can never reach this chat (chat not found, bad file…);
 * - `unavailable`: an outage, network failure or timeout — may work later.
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

/**
 * The port: the one thing broadcasts and reminders need of Telegram (implemented by
 * `integrations/telegram/telegram-sender.ts`). Never throws for Bot API answers.
 */
export interface MessageSender {
  send(chatId: number, message: OutgoingMessage, signal?: AbortSignal): Promise<SendOutcome>;
}
