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

/** An AppError told apart only by its name and what the HTTP layer answers (status, wire code). */
function appErrorKind(name: string, status: number, code: string) {
  return class extends AppError {
    override name = name;
    override readonly status = status;
    override readonly code = code;
  };
}

export class NotFoundError extends appErrorKind('NotFoundError', 404, 'not_found') {}
export class ConflictError extends appErrorKind('ConflictError', 409, 'conflict') {}
export class UnauthorizedError extends appErrorKind('UnauthorizedError', 401, 'unauthorized') {}
export class ForbiddenError extends appErrorKind('ForbiddenError', 403, 'forbidden') {}
export class TooManyRequestsError extends appErrorKind('TooManyRequestsError', 429, 'too_many_requests') {}

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
