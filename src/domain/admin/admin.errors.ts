import { TooManyRequestsError, UnauthorizedError } from '../../platform/errors.js';

/** Unknown username, wrong password or a disabled account: one message for all, so none can be told apart. */
export class LoginFailedError extends UnauthorizedError {
  override name = 'LoginFailedError';
  constructor() {
    super('Invalid username or password.');
  }
}

/** Too many failed attempts from this address (for this account): wait `retryAfterMs` before the next. */
export class LoginThrottledError extends TooManyRequestsError {
  override name = 'LoginThrottledError';
  constructor(readonly retryAfterMs: number) {
    const s = Math.max(1, Math.ceil(retryAfterMs / 1000));
    super(`Too many failed attempts. Try again in ${s < 60 ? `${s} s` : `${Math.ceil(s / 60)} min`}.`, {
      retryAfterSeconds: Math.ceil(retryAfterMs / 1000),
    });
  }
}
