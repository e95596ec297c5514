import { randomUUID } from 'node:crypto';
import { constants } from 'node:fs';
import { access, lstat, mkdir, open, readdir, readFile, rename, rm, stat, unlink } from 'node:fs/promises';
import path from 'node:path';
import { ObjectKeyError, ObjectNotFoundError, ObjectStoreError, withStoreErrors } from './errors.js';
import {
  assertContentType,
  assertExpiry,
  assertObjectKey,
  type ObjectInfo,
  type ObjectStore,
  type StoredObject,
} from './object-store.js';
import { assertSigningOptions, signObjectUrl } from './signed-object-url.js';

export interface LocalObjectStoreOptions {
  /** Base directory; the app passes `DATA_DIR/objects`. */
  dir: string;
  /** HMAC key of the links `signedUrl` makes; the serving route must get the same one. */
  signingSecret: string;
  /** Path the admin app serves objects under, e.g. `/admin/objects`. */
  urlPrefix: string;
  /** Clock in milliseconds (tests make links that are already expired). */
  now?: () => number;
}

const DEFAULT_CONTENT_TYPE = 'application/octet-stream';
/** A temp file this old belongs to a write that died with its process. */
const STALE_TEMP_MS = 3_600_000;
// Codes that mean "no object of ours here": the path, or a folder on it, is missing or is not a
// regular file (ELOOP: a symlink, refused by O_NOFOLLOW).
const ABSENT = new Set(['ENOENT', 'ENOTDIR', 'EISDIR', 'ELOOP']);
// Refuse a symlink planted in the tree, so a link cannot point a key outside the directory.
const READ_FLAGS = constants.O_RDONLY | (constants.O_NOFOLLOW ?? 0);

function isAbsent(err: unknown): boolean {
  return ABSENT.has((err as NodeJS.ErrnoException).code ?? '');
}

/**
 * Objects as plain files under `<dir>/data/<key>`, their content type in `<dir>/meta/<key>.json`,
 * and writes staged in `<dir>/tmp` (same file system, so the final rename is atomic). Separate
 * trees keep a key from ever colliding with another key's metadata or a temp file. A key used as
 * a folder by another key (`a` next to `a/b`) cannot be stored here, unlike in S3: such a put fails.
 */
export class LocalObjectStore implements ObjectStore {
  readonly kind = 'local';
  private readonly dataDir: string;
  private readonly metaDir: string;
  private readonly tmpDir: string;
  private readonly now: () => number;

  constructor(private readonly opts: LocalObjectStoreOptions) {
    assertSigningOptions(opts.signingSecret, opts.urlPrefix);
    const root = path.resolve(opts.dir);
    this.dataDir = path.join(root, 'data');
    this.metaDir = path.join(root, 'meta');
    this.tmpDir = path.join(root, 'tmp');
    this.now = opts.now ?? Date.now;
  }

  async ensureReady(): Promise<void> {
    await withStoreErrors('ensure_ready', undefined, async () => {
      for (const dir of [this.dataDir, this.metaDir, this.tmpDir]) await mkdir(dir, { recursive: true });
      await this.removeStaleTempFiles();
    });
  }

  async ping(): Promise<void> {
    await withStoreErrors('ping', undefined, async () => {
      for (const dir of [this.dataDir, this.metaDir, this.tmpDir]) {
        await access(dir, constants.R_OK | constants.W_OK);
      }
    });
  }

  async put(key: string, bytes: Uint8Array, opts: { contentType: string }): Promise<void> {
    assertObjectKey(key);
    assertContentType(opts.contentType);
    const file = this.pathOf(this.dataDir, key);
    const meta = this.metaPathOf(key);
    const tmpData = path.join(this.tmpDir, randomUUID());
    const tmpMeta = `${tmpData}.json`;
    await withStoreErrors('put', key, async () => {
      try {
        await writeDurably(tmpData, bytes);
        await writeDurably(tmpMeta, JSON.stringify({ contentType: opts.contentType }));
        await publish(key, [
          // Metadata first: whoever finds the data file also finds its content type.
          [tmpMeta, meta],
          [tmpData, file],
        ]);
      } finally {
        await Promise.all([rm(tmpData, { force: true }), rm(tmpMeta, { force: true })]);
      }
    });
  }

  async get(key: string): Promise<StoredObject> {
    assertObjectKey(key);
    const file = this.pathOf(this.dataDir, key);
    return withStoreErrors('get', key, async () => {
      // One handle for size and bytes: a concurrent overwrite renames a new file in, this one stays whole.
      const handle = await open(file, READ_FLAGS).catch((err: unknown) => {
        throw isAbsent(err) ? new ObjectNotFoundError('get', key) : err;
      });
      try {
        const info = await handle.stat();
        if (!info.isFile()) throw new ObjectNotFoundError('get', key);
        const bytes = await handle.readFile();
        const contentType = await this.contentTypeOf(key);
        return { bytes, size: bytes.length, contentType, lastModified: info.mtime };
      } finally {
        await handle.close();
      }
    });
  }

  async head(key: string): Promise<ObjectInfo | null> {
    assertObjectKey(key);
    const file = this.pathOf(this.dataDir, key);
    return withStoreErrors('head', key, async () => {
      const info = await lstat(file).catch((err: unknown) => {
        if (isAbsent(err)) return null;
        throw err;
      });
      if (!info?.isFile()) return null;
      return { size: info.size, contentType: await this.contentTypeOf(key), lastModified: info.mtime };
    });
  }

  async delete(key: string): Promise<void> {
    assertObjectKey(key);
    const file = this.pathOf(this.dataDir, key);
    const meta = this.metaPathOf(key);
    await withStoreErrors('delete', key, async () => {
      // Data first, so the object is gone before its metadata.
      for (const p of [file, meta]) {
        await unlink(p).catch((err: unknown) => {
          if (!isAbsent(err)) throw err;
        });
      }
    });
  }

  async signedUrl(key: string, opts: { expiresInS: number }): Promise<string> {
    assertObjectKey(key);
    assertExpiry(opts.expiresInS);
    const expiresAt = Math.floor(this.now() / 1000) + opts.expiresInS;
    return signObjectUrl({ prefix: this.opts.urlPrefix, key, expiresAt, secret: this.opts.signingSecret });
  }

  async close(): Promise<void> {}

  /** Key validation already rules out traversal; this re-check makes escaping the base impossible by construction. */
  private pathOf(base: string, key: string): string {
    const resolved = path.resolve(base, ...key.split('/'));
    if (!resolved.startsWith(base + path.sep)) {
      throw new ObjectKeyError(`invalid object key ${JSON.stringify(key)}: it leaves the store's directory`);
    }
    return resolved;
  }

  private metaPathOf(key: string): string {
    return `${this.pathOf(this.metaDir, key)}.json`;
  }

  private async contentTypeOf(key: string): Promise<string> {
    try {
      const parsed = JSON.parse(await readFile(this.metaPathOf(key), 'utf8')) as { contentType?: unknown };
      return typeof parsed.contentType === 'string' ? parsed.contentType : DEFAULT_CONTENT_TYPE;
    } catch {
      // A file copied in by hand has no metadata; it is still served, as opaque bytes.
      return DEFAULT_CONTENT_TYPE;
    }
  }

  private async removeStaleTempFiles(): Promise<void> {
    const cutoff = Date.now() - STALE_TEMP_MS;
    for (const name of await readdir(this.tmpDir)) {
      const p = path.join(this.tmpDir, name);
      const info = await stat(p).catch(() => null);
      if (info && info.mtimeMs < cutoff) await rm(p, { force: true, recursive: true });
    }
  }
}

async function publish(key: string, moves: [from: string, to: string][]): Promise<void> {
  try {
    for (const [from, to] of moves) {
      await mkdir(path.dirname(to), { recursive: true });
      await rename(from, to);
    }
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? '';
    if (!['ENOTDIR', 'EISDIR', 'EEXIST'].includes(code)) throw err;
    const detail = `a folder on its path is an object, or the key is a folder of other keys (${code})`;
    throw new ObjectStoreError('put', key, detail, { cause: err });
  }
}

/** Written and flushed to disk before the rename publishes it, so a crash cannot publish a torn file. */
async function writeDurably(file: string, data: Uint8Array | string): Promise<void> {
  const handle = await open(file, 'wx', 0o640);
  try {
    await handle.writeFile(data);
    await handle.datasync();
  } finally {
    await handle.close();
  }
}
