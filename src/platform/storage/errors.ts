import { errorMessage, ValidationError } from '../errors.js';

/** Every operation of the store, as it appears in errors, logs and metric labels. */
export type ObjectStoreOp = 'ensure_ready' | 'ping' | 'put' | 'get' | 'head' | 'delete' | 'sign';

/** A key the store refuses before touching the disk or the network; the message names the rule. */
export class ObjectKeyError extends ValidationError {
  override name = 'ObjectKeyError';
}

/** The backend failed (disk, network, S3 answer); `cause` holds the original error. */
export class ObjectStoreError extends Error {
  override name = 'ObjectStoreError';
  constructor(
    readonly op: ObjectStoreOp,
    readonly key: string | undefined,
    detail: string,
    options?: { cause?: unknown },
  ) {
    super(`storage ${op}${key === undefined ? '' : ` of "${key}"`} failed: ${detail}`, options);
  }
}

/** There is no object under this key. */
export class ObjectNotFoundError extends ObjectStoreError {
  override name = 'ObjectNotFoundError';
  constructor(op: ObjectStoreOp, key: string) {
    super(op, key, 'no such object');
  }
}

/** Runs one backend operation, wrapping whatever it throws, other than the store's own errors, in `ObjectStoreError`. */
export async function withStoreErrors<T>(
  op: ObjectStoreOp,
  key: string | undefined,
  fn: () => Promise<T>,
  describe: (err: unknown) => string = errorMessage,
): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    if (err instanceof ObjectStoreError || err instanceof ObjectKeyError) throw err;
    throw new ObjectStoreError(op, key, describe(err), { cause: err });
  }
}
