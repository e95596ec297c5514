import type { Logger } from '../logger.js';
import type { Metrics } from '../metrics.js';
import { instrumentObjectStore } from './instrumented-object-store.js';
import { LocalObjectStore, type LocalObjectStoreOptions } from './local-object-store.js';
import type { ObjectStore } from './object-store.js';
import { S3ObjectStore, type S3ObjectStoreOptions } from './s3-object-store.js';

export { ObjectKeyError, ObjectNotFoundError, ObjectStoreError, type ObjectStoreOp } from './errors.js';
export { LocalObjectStore, type LocalObjectStoreOptions } from './local-object-store.js';
export {
  assertObjectKey,
  MAX_KEY_SEGMENT_LENGTH,
  MAX_OBJECT_KEY_LENGTH,
  MAX_SIGNED_URL_TTL_S,
  type ObjectInfo,
  type ObjectStore,
  type StoredObject,
} from './object-store.js';
export { S3ObjectStore, type S3ObjectStoreOptions } from './s3-object-store.js';
export { type SignedObjectRoutesOptions, signedObjectRoutes } from './signed-object.routes.js';
export {
  MIN_SIGNING_SECRET_LENGTH,
  type SignedUrlCheck,
  signObjectUrl,
  verifySignedObjectUrl,
} from './signed-object-url.js';

export type ObjectStoreOptions =
  | ({ kind: 'local' } & LocalObjectStoreOptions)
  | ({ kind: 's3' } & S3ObjectStoreOptions);

/** The configured adapter, with metrics and failure logs. Call `ensureReady()` before first use. */
export function createObjectStore(
  options: ObjectStoreOptions,
  deps: { logger: Logger; metrics: Metrics },
): ObjectStore {
  const store = options.kind === 'local' ? new LocalObjectStore(options) : new S3ObjectStore(options);
  return instrumentObjectStore(store, deps);
}
