const CANT_PARSE = "Bad Request: can't parse entities: ";

/**
 * The HTML would be refused by Telegram. `description` is what the Bot API answers
 * (`Bad Request: can't parse entities: …`); `reason` is the part after the prefix.
 */
export class TelegramHtmlError extends Error {
  override name = 'TelegramHtmlError';
  readonly errorCode = 400;
  readonly description: string;
  constructor(
    readonly reason: string,
    options?: { cause?: unknown; description?: string },
  ) {
    const description = options?.description ?? CANT_PARSE + reason;
    super(description, options);
    this.description = description;
  }
}
