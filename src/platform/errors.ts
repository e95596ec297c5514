/**
 * Expected failures. Entry layers turn these into a 4xx answer or a friendly bot message;
 * anything else is a bug, logged with context and answered generically.
 */
export class AppError extends Error {
  override name = 'AppError';
  readonly status: number = 400;
  readonly code: string = 'bad_request';
  constructor(
    message: string,
    readonly details?: Record<string, unknown>,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/** A problem with one field of the input: `path` names it (dotted; empty for the input as a whole). */
export interface ValidationIssue {
  path: string;
  message: string;
}

/**
 * Bad input, with a problem per field in `issues`. Clients see them as `details.issues` (with any
 * other details beside them), so a form can show each one at its field.
 */
export class ValidationError extends AppError {
  override name = 'ValidationError';
  override readonly status = 400;
  override readonly code = 'validation_failed';
  readonly issues: readonly ValidationIssue[];

  constructor(
    message: string,
    fields: { issues?: readonly ValidationIssue[] | undefined; [detail: string]: unknown } = {},
    options?: { cause?: unknown },
  ) {
    const { issues = [], ...details } = fields;
    const wire = issues.length ? { ...details, issues } : details;
    super(message, Object.keys(wire).length ? wire : undefined, options);
    this.issues = issues;
  }
}

export class NotFoundError extends AppError {
  override name = 'NotFoundError';
  override readonly status = 404;
  override readonly code = 'not_found';
}

export class ConflictError extends AppError {
  override name = 'ConflictError';
  override readonly status = 409;
  override readonly code = 'conflict';
}

export class UnauthorizedError extends AppError {
  override name = 'UnauthorizedError';
  override readonly status = 401;
  override readonly code = 'unauthorized';
}

export class ForbiddenError extends AppError {
  override name = 'ForbiddenError';
  override readonly status = 403;
  override readonly code = 'forbidden';
}

export class TooManyRequestsError extends AppError {
  override name = 'TooManyRequestsError';
  override readonly status = 429;
  override readonly code = 'too_many_requests';
}

export function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/**
 * The work cannot be done now but can be later — a dependency is down, or another attempt holds it:
 * the sender should try again (a webhook answers 503 with Retry-After, so Telegram re-sends).
 */
export class RetryLaterError extends AppError {
  override name = 'RetryLaterError';
  override readonly status = 503;
  override readonly code = 'retry_later';
  constructor(
    message: string,
    readonly retryAfterS: number,
    options?: { cause?: unknown },
  ) {
    super(message, { retryAfterS }, options);
  }
}
