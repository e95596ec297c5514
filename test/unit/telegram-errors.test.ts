import { GrammyError, HttpError } from 'grammy';
import { describe, expect, it } from 'vitest';
import {
  classifyTelegramError,
  type TelegramFailureKind,
} from '../../src/integrations/telegram/telegram-errors.js';

function grammyError(code: number, description: string, retryAfter?: number): GrammyError {
  return new GrammyError(
    `Call to 'sendMessage' failed! (${code}: ${description})`,
    {
      ok: false,
      error_code: code,
      description,
      ...(retryAfter === undefined ? {} : { parameters: { retry_after: retryAfter } }),
    },
    'sendMessage',
    { chat_id: 42, text: 'hi' },
  );
}

/** Real Bot API answers (error code and description as Telegram sends them) and what they mean. */
const TABLE: [number, string, TelegramFailureKind][] = [
  [403, 'Forbidden: bot was blocked by the user', 'blocked'],
  [403, 'Forbidden: user is deactivated', 'blocked'],
  [403, "Forbidden: bot can't initiate conversation with a user", 'blocked'],
  [400, 'Bad Request: chat not found', 'chat_gone'],
  [400, 'Bad Request: PEER_ID_INVALID', 'chat_gone'],
  [400, 'Bad Request: group chat was upgraded to a supergroup chat', 'chat_gone'],
  [403, 'Forbidden: bot was kicked from the group chat', 'chat_gone'],
  [403, 'Forbidden: bot was kicked from the supergroup chat', 'chat_gone'],
  [403, 'Forbidden: bot is not a member of the channel chat', 'chat_gone'],
  [403, 'Forbidden: the group chat was deleted', 'chat_gone'],
  [400, 'Bad Request: can\'t parse entities: Unsupported start tag "foo" at byte offset 0', 'parse_error'],
  [
    400,
    'Bad Request: can\'t parse entities: Can\'t find end tag corresponding to start tag "b"',
    'parse_error',
  ],
  [
    400,
    "Bad Request: can't parse message text: Can't find end of the entity starting at byte offset 5",
    'parse_error',
  ],
  [
    400,
    'Bad Request: message is not modified: specified new message content and reply markup are exactly the same as a current content and reply markup of the message',
    'not_modified',
  ],
  [400, 'Bad Request: message to edit not found', 'rejected'],
  [400, "Bad Request: message can't be edited", 'rejected'],
  [400, 'Bad Request: message text is empty', 'rejected'],
  [400, 'Bad Request: wrong file identifier/HTTP URL specified', 'rejected'],
  [400, 'Bad Request: MESSAGE_TOO_LONG', 'rejected'],
  [403, "Forbidden: bot can't send messages to bots", 'rejected'],
  [403, 'Forbidden: not enough rights to send text messages to the chat', 'rejected'],
  [500, 'Internal Server Error', 'unavailable'],
  [502, 'Bad Gateway', 'unavailable'],
  [401, 'Unauthorized', 'unavailable'],
  [404, 'Not Found', 'unavailable'],
  [409, 'Conflict: terminated by other getUpdates request', 'unavailable'],
];

describe('classifyTelegramError', () => {
  it.each(TABLE)('%i %s → %s', (code, description, kind) => {
    expect(classifyTelegramError(grammyError(code, description))).toEqual({ kind, description });
  });

  it('reads the raw { ok: false } answer an API transformer sees the same way', () => {
    const raw = { ok: false, error_code: 403, description: 'Forbidden: bot was blocked by the user' };
    expect(classifyTelegramError(raw).kind).toBe('blocked');
  });

  it("waits what Telegram's retry_after says, at least a second", () => {
    const flood = (after?: number) => classifyTelegramError(grammyError(429, 'Too Many Requests', after));
    expect(flood(7)).toEqual({ kind: 'rate_limited', retryAfterMs: 7_000, description: 'Too Many Requests' });
    expect(flood(undefined)).toMatchObject({ kind: 'rate_limited', retryAfterMs: 1_000 });
    expect(flood(0)).toMatchObject({ kind: 'rate_limited', retryAfterMs: 1_000 });
  });

  it('takes network failures, timeouts and aborts as unavailable', () => {
    const network = new HttpError("Network request for 'sendMessage' failed!", new TypeError('fetch failed'));
    expect(classifyTelegramError(network)).toEqual({
      kind: 'unavailable',
      description: "Network request for 'sendMessage' failed!",
    });
    expect(classifyTelegramError(new DOMException('The operation timed out.', 'TimeoutError')).kind).toBe(
      'unavailable',
    );
    expect(classifyTelegramError('socket hang up')).toEqual({
      kind: 'unavailable',
      description: 'socket hang up',
    });
  });

  it('falls back to the error code when Telegram gives no description', () => {
    expect(classifyTelegramError({ error_code: 400 })).toEqual({
      kind: 'rejected',
      description: 'error 400',
    });
  });
});
