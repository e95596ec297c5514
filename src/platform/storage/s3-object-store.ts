import {
  type BucketLocationConstraint,
  CreateBucketCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  HeadBucketCommand,
  HeadObjectCommand,
  PutObjectCommand,
  S3Client,
  S3ServiceException,
} from '@aws-sdk/client-s3';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import { errorMessage } from '../errors.js';
import { ObjectNotFoundError, type ObjectStoreOp, withStoreErrors } from './errors.js';
import {
  assertContentType,
  assertExpiry,
  assertObjectKey,
  type ObjectInfo,
  type ObjectStore,
  type StoredObject,
} from './object-store.js';

export interface S3ObjectStoreOptions {
  /** e.g. `http://minio:9000`; unset means AWS S3 itself. */
  endpoint?: string | undefined;
  /**
   * The address browsers reach the store at, when it differs from `endpoint` (MinIO on a private
   * network behind nginx). A SigV4 signature covers the host, so links are signed for this one.
   */
  publicEndpoint?: string | undefined;
  region: string;
  bucket: string;
  accessKeyId: string;
  secretAccessKey: string;
  /** `bucket` in the path instead of the host name: required by MinIO and s3rver. */
  forcePathStyle: boolean;
  /** Per HTTP attempt; the SDK retries a timed-out attempt. Default 30 s. */
  requestTimeoutMs?: number;
  /** Default 5 s. */
  connectTimeoutMs?: number;
  /** HTTP attempts per operation, first included (SDK standard retry with backoff). Default 3. */
  maxAttempts?: number;
  /** Clock in milliseconds (tests make links that are already expired). */
  now?: () => number;
}

const BUCKET_NAME = /^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/;

function statusOf(err: unknown): number | undefined {
  return (err as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;
}

/** The SDK names errors by S3 code; HEAD answers have no body, so only the status says "missing". */
function isMissing(err: unknown, codes: string[]): boolean {
  return err instanceof S3ServiceException && (codes.includes(err.name) || statusOf(err) === 404);
}

function describeS3Error(err: unknown): string {
  const message = errorMessage(err);
  if (!(err instanceof S3ServiceException)) {
    // Network and timeout errors: the name (TimeoutError, …) says what kind; our own say it in words.
    return err instanceof Error && err.name !== 'Error' ? `${err.name}: ${message}` : message;
  }
  const status = statusOf(err);
  // Answers to HEAD have no body, so the SDK can only say "UnknownError"; the status is the news.
  return `${err.name}${status ? ` (HTTP ${status})` : ''}${message === 'UnknownError' ? '' : `: ${message}`}`;
}

function s3Op<T>(op: ObjectStoreOp, key: string | undefined, fn: () => Promise<T>): Promise<T> {
  return withStoreErrors(op, key, fn, describeS3Error);
}

/**
 * An S3-compatible bucket (AWS S3, MinIO, s3rver in tests). Retries and timeouts are the SDK's:
 * throttling, 5xx and network errors are retried with exponential backoff and jitter.
 */
export class S3ObjectStore implements ObjectStore {
  readonly kind = 's3';
  private readonly client: S3Client;
  private readonly presigner: S3Client;
  private readonly bucket: string;
  private readonly now: () => number;

  constructor(private readonly opts: S3ObjectStoreOptions) {
    if (!BUCKET_NAME.test(opts.bucket)) {
      throw new Error(
        `invalid S3 bucket name ${JSON.stringify(opts.bucket)}: 3-63 lowercase letters, digits, "." or "-"`,
      );
    }
    if (!opts.accessKeyId || !opts.secretAccessKey) throw new Error('S3 credentials are required');
    this.bucket = opts.bucket;
    this.now = opts.now ?? Date.now;
    this.client = this.makeClient(opts.endpoint);
    this.presigner = opts.publicEndpoint ? this.makeClient(opts.publicEndpoint) : this.client;
  }

  private makeClient(endpoint: string | undefined): S3Client {
    return new S3Client({
      ...(endpoint ? { endpoint } : {}),
      region: this.opts.region,
      forcePathStyle: this.opts.forcePathStyle,
      credentials: { accessKeyId: this.opts.accessKeyId, secretAccessKey: this.opts.secretAccessKey },
      maxAttempts: this.opts.maxAttempts ?? 3,
      requestHandler: {
        connectionTimeout: this.opts.connectTimeoutMs ?? 5_000,
        requestTimeout: this.opts.requestTimeoutMs ?? 30_000,
        throwOnRequestTimeout: true,
      },
      // Since 3.729 the SDK adds CRC checksums to every upload; several S3-compatible servers
      // reject or mishandle them, and TLS plus SigV4 already protect the bytes in transit.
      requestChecksumCalculation: 'WHEN_REQUIRED',
      responseChecksumValidation: 'WHEN_REQUIRED',
    });
  }

  async ensureReady(): Promise<void> {
    await s3Op('ensure_ready', undefined, async () => {
      if (await this.bucketExists()) return;
      try {
        await this.client.send(
          new CreateBucketCommand({
            Bucket: this.bucket,
            // us-east-1 is the one region that refuses an explicit location constraint.
            ...(this.opts.region === 'us-east-1'
              ? {}
              : {
                  CreateBucketConfiguration: {
                    LocationConstraint: this.opts.region as BucketLocationConstraint,
                  },
                }),
          }),
        );
      } catch (err) {
        // Another process created it first. Some servers (s3rver, AWS in us-east-1) answer
        // BucketAlreadyExists even to the owner, so whether we can use it decides.
        if (err instanceof S3ServiceException && err.name === 'BucketAlreadyOwnedByYou') return;
        if (err instanceof S3ServiceException && err.name === 'BucketAlreadyExists') {
          if (await this.bucketExists()) return;
          throw new Error(`bucket "${this.bucket}" exists and belongs to another account`, { cause: err });
        }
        throw err;
      }
    });
  }

  async ping(): Promise<void> {
    await s3Op('ping', undefined, async () => {
      if (!(await this.bucketExists())) throw new Error(`bucket "${this.bucket}" does not exist`);
    });
  }

  async put(key: string, bytes: Uint8Array, opts: { contentType: string }): Promise<void> {
    assertObjectKey(key);
    assertContentType(opts.contentType);
    await s3Op('put', key, async () => {
      await this.client.send(
        new PutObjectCommand({
          Bucket: this.bucket,
          Key: key,
          Body: bytes,
          ContentType: opts.contentType,
          ContentLength: bytes.byteLength,
        }),
      );
    });
  }

  async get(key: string): Promise<StoredObject> {
    assertObjectKey(key);
    return s3Op('get', key, async () => {
      try {
        const res = await this.client.send(new GetObjectCommand({ Bucket: this.bucket, Key: key }));
        const body = await res.Body!.transformToByteArray();
        const bytes = Buffer.from(body.buffer, body.byteOffset, body.byteLength);
        return {
          bytes,
          size: bytes.length,
          contentType: res.ContentType ?? 'application/octet-stream',
          lastModified: res.LastModified ?? new Date(this.now()),
        };
      } catch (err) {
        // Only NoSuchKey: a 404 NoSuchBucket is a broken deployment, not a missing object.
        if (err instanceof S3ServiceException && err.name === 'NoSuchKey')
          throw new ObjectNotFoundError('get', key);
        throw err;
      }
    });
  }

  async head(key: string): Promise<ObjectInfo | null> {
    assertObjectKey(key);
    return s3Op('head', key, async () => {
      try {
        const res = await this.client.send(new HeadObjectCommand({ Bucket: this.bucket, Key: key }));
        return {
          size: res.ContentLength ?? 0,
          contentType: res.ContentType ?? 'application/octet-stream',
          lastModified: res.LastModified ?? new Date(this.now()),
        };
      } catch (err) {
        if (isMissing(err, ['NotFound', 'NoSuchKey'])) return null;
        throw err;
      }
    });
  }

  async delete(key: string): Promise<void> {
    assertObjectKey(key);
    await s3Op('delete', key, async () => {
      try {
        await this.client.send(new DeleteObjectCommand({ Bucket: this.bucket, Key: key }));
      } catch (err) {
        // S3 answers 204 for a missing key; a few compatible servers answer 404.
        if (!(err instanceof S3ServiceException && err.name === 'NoSuchKey')) throw err;
      }
    });
  }

  async signedUrl(key: string, opts: { expiresInS: number }): Promise<string> {
    assertObjectKey(key);
    assertExpiry(opts.expiresInS);
    return s3Op('sign', key, () =>
      getSignedUrl(this.presigner, new GetObjectCommand({ Bucket: this.bucket, Key: key }), {
        expiresIn: opts.expiresInS,
        signingDate: new Date(this.now()),
      }),
    );
  }

  async close(): Promise<void> {
    this.client.destroy();
    if (this.presigner !== this.client) this.presigner.destroy();
  }

  private async bucketExists(): Promise<boolean> {
    try {
      await this.client.send(new HeadBucketCommand({ Bucket: this.bucket }));
      return true;
    } catch (err) {
      if (isMissing(err, ['NotFound', 'NoSuchBucket'])) return false;
      throw err;
    }
  }
}
