import { errorMessage } from '../../platform/errors.js';

/**
 * What a failed Bot API call means for the caller, decided in this one place:
 * - `rate_limited`: flood control (429) — wait `retryAfterMs`, then try again;
 * - `blocked`: the user blocked the bot, deleted their account, or never started the bot — nothing
 *   reaches them until they write to it again;
 * - `chat_gone`: the chat is not there for the bot (not found, kicked, deleted, upgraded to a supergroup);
 * - `parse_error`: Telegram could not parse the message's HTML — the same text as plain text will do;
 * - `not_modified`: an edit that changes nothing — the message already shows it;
 * - `rejected`: any other refusal (400, 403): this request will never succeed as it is;
 * - `unavailable`: 5xx, network failures, timeouts, and answers that are not Telegram's verdict on the
 *   request (401, 404, 409) — it may work later.
 */
export type TelegramFailure =
  | { kind: 'rate_limited'; retryAfterMs: number; description: string }
  | {
      kind: 'blocked' | 'chat_gone' | 'parse_error' | 'not_modified' | 'rejected' | 'unavailable';
      description: string;
    };

export type TelegramFailureKind = TelegramFailure['kind'];

/** Telegram's answer as grammY's GrammyError and the raw `{ ok: false, … }` response both carry it. */
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

// Telegram's descriptions are the only way to tell these apart: they share error codes (400, 403).
const BLOCKED =
  /bot was blocked by the user|user is deactivated|bot can't initiate conversation with a user/i;
const CHAT_GONE =
  /chat not found|bot was kicked|bot is not a member|chat was deleted|chat was upgraded|group chat was deactivated|PEER_ID_INVALID/i;
const PARSE_ERROR = /can't parse entities|can't parse message text/i;
const NOT_MODIFIED = /message is not modified/i;

/**
 * Maps a failed Bot API call — a thrown GrammyError, grammY's HttpError (network), an abort or
 * timeout, or a raw `{ ok: false }` response seen by an API transformer — to a TelegramFailure.
 */
export function classifyTelegramError(err: unknown): TelegramFailure {
  if (!isBotApiError(err)) return { kind: 'unavailable', description: errorMessage(err) };
  const description = err.description ?? `error ${err.error_code}`;
  switch (err.error_code) {
    case 429: {
      const seconds = err.parameters?.retry_after;
      const retryAfterMs = (typeof seconds === 'number' && seconds > 0 ? seconds : 1) * 1_000;
      return { kind: 'rate_limited', retryAfterMs, description };
    }
    case 400:
    case 403:
      if (BLOCKED.test(description)) return { kind: 'blocked', description };
      if (CHAT_GONE.test(description)) return { kind: 'chat_gone', description };
      if (PARSE_ERROR.test(description)) return { kind: 'parse_error', description };
      if (NOT_MODIFIED.test(description)) return { kind: 'not_modified', description };
      return { kind: 'rejected', description };
    default:
      return { kind: 'unavailable', description };
  }
}
