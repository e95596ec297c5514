import { ValidationError } from '../errors.js';
import { ObjectKeyError } from './errors.js';

/** What the store knows about an object without reading it. */
export interface ObjectInfo {
  size: number;
  contentType: string;
  lastModified: Date;
}

export interface StoredObject extends ObjectInfo {
  bytes: Buffer;
}

/**
 * Where generated images and other blobs live: files under a directory (embedded mode) or an
 * S3-compatible bucket (MinIO in Compose). Keys are relative, `/`-separated paths such as
 * `images/2025/06/<uuid>.png`; every method refuses an invalid key with `ObjectKeyError` before
 * touching the backend. Backend failures are `ObjectStoreError`, a missing object on `get` is
 * `ObjectNotFoundError`.
 *
 * `get` returns the whole object in memory: objects are generated images of a few MB, and every
 * caller needs all of the bytes at once (a Telegram upload, an HTTP answer with a length), so a
 * stream would only move the failure point into the middle of the caller's work.
 */
export interface ObjectStore {
  readonly kind: 'local' | 's3';
  /** Creates the directory or the bucket when missing. Safe to call from several processes at once. */
  ensureReady(): Promise<void>;
  /** Throws when the backend cannot be reached or used (health checks). */
  ping(): Promise<void>;
  /** Writes the whole object or nothing; a reader sees the old or the new bytes, never a mix. */
  put(key: string, bytes: Uint8Array, opts: { contentType: string }): Promise<void>;
  get(key: string): Promise<StoredObject>;
  /** The object's metadata, or null when there is none. */
  head(key: string): Promise<ObjectInfo | null>;
  /** Removes the object; removing a missing one is not an error. */
  delete(key: string): Promise<void>;
  /**
   * A link that serves the object without credentials until it expires: a presigned S3 URL, or a
   * path on the admin app (see `signedObjectRoutes`) for the local store. The object's existence
   * is not checked.
   */
  signedUrl(key: string, opts: { expiresInS: number }): Promise<string>;
  close(): Promise<void>;
}

export const MAX_OBJECT_KEY_LENGTH = 512;
/** File systems cap a name at 255 bytes, and the local store and MinIO keep each segment as one. */
export const MAX_KEY_SEGMENT_LENGTH = 200;
/** SigV4 presigned URLs cannot live longer than a week; the local store keeps the same bound. */
export const MAX_SIGNED_URL_TTL_S = 7 * 24 * 3600;
const SEGMENT = /^[A-Za-z0-9_-][A-Za-z0-9._-]*$/;
const ALLOWED = /^[A-Za-z0-9._/-]*$/;
const TOKEN = "[A-Za-z0-9!#$&^_.+'-]+";
const CONTENT_TYPE = new RegExp(`^${TOKEN}/${TOKEN}(\\s*;\\s*${TOKEN}=(${TOKEN}|"[^"\\\\\\r\\n]*"))*$`);

function keyProblem(key: unknown): string | undefined {
  if (typeof key !== 'string' || key.length === 0) return 'must be a non-empty string';
  if (key.length > MAX_OBJECT_KEY_LENGTH) return `is longer than ${MAX_OBJECT_KEY_LENGTH} characters`;
  if (key.includes('\0')) return 'contains a NUL byte';
  if (key.startsWith('/') || key.includes('\\') || /^[A-Za-z]:/.test(key)) {
    return 'must be a relative path (no leading "/", no "\\", no drive letter)';
  }
  const segments = key.split('/');
  if (segments.includes('..') || segments.includes('.')) return 'must not contain "." or ".." segments';
  if (!ALLOWED.test(key)) return 'may contain only letters, digits, ".", "_", "-" and "/"';
  if (segments.includes('')) return 'must not contain empty segments ("//" or a trailing "/")';
  if (!segments.every((s) => SEGMENT.test(s))) return 'no segment may start with "."';
  if (segments.some((s) => s.length > MAX_KEY_SEGMENT_LENGTH)) {
    return `no segment between "/" may be longer than ${MAX_KEY_SEGMENT_LENGTH} characters`;
  }
  return undefined;
}

/** Throws `ObjectKeyError` naming the rule an object key breaks. */
export function assertObjectKey(key: unknown): asserts key is string {
  const problem = keyProblem(key);
  if (problem) {
    const shown = typeof key === 'string' ? JSON.stringify(key.slice(0, 80)) : typeof key;
    throw new ObjectKeyError(`invalid object key ${shown}: ${problem}`, { rule: problem });
  }
}

export function assertContentType(contentType: unknown): asserts contentType is string {
  if (typeof contentType !== 'string' || contentType.length > 200 || !CONTENT_TYPE.test(contentType)) {
    throw new ValidationError(`invalid content type ${JSON.stringify(contentType)}: expected "type/subtype"`);
  }
}

export function assertExpiry(expiresInS: unknown): asserts expiresInS is number {
  if (
    !Number.isInteger(expiresInS) ||
    (expiresInS as number) < 1 ||
    (expiresInS as number) > MAX_SIGNED_URL_TTL_S
  ) {
    throw new ValidationError(
      `invalid link lifetime ${String(expiresInS)}: expected whole seconds from 1 to ${MAX_SIGNED_URL_TTL_S}`,
    );
  }
}
