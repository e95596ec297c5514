import { TooManyRequestsError, UnauthorizedError } from '../../platform/errors.js';

/** Unknown username, wrong password or a disabled account: one message for all, so none can be told apart. */
export class LoginFailedError extends UnauthorizedError {
  override name = 'LoginFailedError';
  constructor() {
    super('Invalid username or password.');
  }
}

/** Too many attempts from this address or for this account, or the account is locked for a while. */
export class LoginThrottledError extends TooManyRequestsError {
  override name = 'LoginThrottledError';
  constructor(readonly retryAfterMs: number) {
    super(`Too many failed attempts. Try again in ${Math.max(1, Math.ceil(retryAfterMs / 60_000))} min.`, {
      retryAfterSeconds: Math.ceil(retryAfterMs / 1000),
    });
  }
}
