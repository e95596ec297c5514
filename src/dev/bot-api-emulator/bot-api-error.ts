/** A Bot API failure answered exactly as Telegram does: `{ ok: false, error_code, description, parameters? }`. */
export class BotApiError extends Error {
  override name = 'BotApiError';
  constructor(
    readonly errorCode: number,
    readonly description: string,
    readonly parameters?: { retry_after?: number; migrate_to_chat_id?: number },
    options?: { cause?: unknown },
  ) {
    super(description, options);
  }

  toJSON(): Record<string, unknown> {
    return {
      ok: false,
      error_code: this.errorCode,
      description: this.description,
      ...(this.parameters ? { parameters: this.parameters } : {}),
    };
  }
}

export const badRequest = (what: string): BotApiError => new BotApiError(400, `Bad Request: ${what}`);

export const tooManyRequests = (retryAfter: number): BotApiError =>
  new BotApiError(429, `Too Many Requests: retry after ${retryAfter}`, { retry_after: retryAfter });

export const blockedByUser = (): BotApiError =>
  new BotApiError(403, 'Forbidden: bot was blocked by the user');

export const notFound = (): BotApiError => new BotApiError(404, 'Not Found');

export const unauthorized = (): BotApiError => new BotApiError(401, 'Unauthorized');

export const chatNotFound = (): BotApiError => badRequest('chat not found');

/**
 * A late, repeated or unknown callback or pre-checkout answer: the Bot API turns MTProto's
 * QUERY_ID_INVALID into this text (telegram-bot-api, Client::fail_query_with_error).
 */
export const queryInvalid = (): BotApiError =>
  badRequest('query is too old and response timeout expired or query ID is invalid');

export const NOT_MODIFIED =
  'message is not modified: specified new message content and reply markup are exactly the same as a current content and reply markup of the message';

const STANDARD: Record<number, string> = {
  400: 'Bad Request',
  401: 'Unauthorized',
  403: 'Forbidden: bot was blocked by the user',
  404: 'Not Found',
  409: 'Conflict',
  500: 'Internal Server Error',
  502: 'Bad Gateway',
  504: 'Gateway Timeout',
};

/** The description Telegram would give for a bare status code. */
export function standardDescription(code: number, retryAfter = 1): string {
  if (code === 429) return `Too Many Requests: retry after ${retryAfter}`;
  return STANDARD[code] ?? `Error ${code}`;
}

/** A success that also carries Telegram's `description`, as setWebhook and deleteWebhook do. */
export class DescribedResult {
  constructor(
    readonly result: unknown,
    readonly description: string,
  ) {}
}
