import { randomUUID } from 'node:crypto';
import { createServer as createHttpServer, type IncomingMessage, request } from 'node:http';
import { type AddressInfo, createServer, type Server, type Socket } from 'node:net';
import {
  CreateBucketCommand,
  GetObjectCommand,
  ListBucketsCommand,
  PutObjectCommand,
  S3Client,
} from '@aws-sdk/client-s3';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '../../src/platform/logger.js';
import { Metrics } from '../../src/platform/metrics.js';
import {
  createObjectStore,
  ObjectNotFoundError,
  type ObjectStore,
  ObjectStoreError,
  S3ObjectStore,
  type S3ObjectStoreOptions,
} from '../../src/platform/storage/index.js';
import { type RunningS3rver, startS3rver } from '../helpers/s3rver.js';

/**
 * What only the S3 adapter does, against s3rver over HTTP. s3rver checks the access key id and
 * the expiry of presigned links but not the SigV4 signature bytes themselves (its V4 support is
 * partial), so a tampered signature can only be proven refused against real S3 or MinIO.
 */

let s3rver: RunningS3rver;
let endpoint: string;
let raw: S3Client;
const opened: ObjectStore[] = [];

beforeAll(async () => {
  s3rver = await startS3rver();
  endpoint = s3rver.endpoint;
  // A client of our own, to see what the adapter really left in the bucket.
  raw = new S3Client({
    endpoint,
    region: 'us-east-1',
    forcePathStyle: true,
    credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' },
  });
});
afterAll(async () => {
  raw.destroy();
  await s3rver.close();
});
afterEach(async () => {
  await Promise.all(opened.splice(0).map((s) => s.close()));
});

function options(overrides: Partial<S3ObjectStoreOptions> = {}): S3ObjectStoreOptions {
  return {
    endpoint,
    region: 'us-east-1',
    bucket: `vitte-${randomUUID().slice(0, 8)}`,
    accessKeyId: 'S3RVER',
    secretAccessKey: 'S3RVER',
    forcePathStyle: true,
    ...overrides,
  };
}

function open(overrides: Partial<S3ObjectStoreOptions> = {}): ObjectStore {
  const store = createObjectStore(
    { kind: 's3', ...options(overrides) },
    {
      logger: createLogger({ level: 'silent', pretty: false }),
      metrics: new Metrics({ defaultMetrics: false }),
    },
  );
  opened.push(store);
  return store;
}

function s3ErrorXml(code: string): string {
  return `<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>${code}</Code><Message>${code}</Message></Error>`;
}

type Intercept = (req: IncomingMessage) => { status: number; body?: string } | undefined;

/** Forwards to s3rver, except for the requests `intercept` answers itself; records every answer. */
async function startProxy(intercept: Intercept) {
  const upstream = new URL(endpoint);
  const seen: string[] = [];
  const server = createHttpServer((req, res) => {
    const fake = intercept(req);
    if (fake) {
      seen.push(`${req.method} ${fake.status}`);
      res
        .writeHead(fake.status, { 'content-type': 'application/xml' })
        .end(req.method === 'HEAD' ? undefined : fake.body);
      return;
    }
    const forward = request(
      {
        host: upstream.hostname,
        port: upstream.port,
        method: req.method,
        path: req.url,
        headers: req.headers,
      },
      (answer) => {
        seen.push(`${req.method} ${answer.statusCode}`);
        res.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(res);
      },
    );
    req.pipe(forward);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    endpoint: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    seen,
    close: () => {
      server.closeAllConnections();
      return new Promise((resolve) => server.close(resolve));
    },
  };
}

async function bucketNames(): Promise<string[]> {
  return ((await raw.send(new ListBucketsCommand({}))).Buckets ?? []).map((b) => b.Name ?? '');
}

describe('S3 object store against s3rver', () => {
  it('creates a missing bucket once; processes starting together all succeed', async () => {
    const bucket = `vitte-race-${randomUUID().slice(0, 8)}`;
    expect(await bucketNames()).not.toContain(bucket);
    await Promise.all([1, 2, 3].map(() => open({ bucket }).ensureReady()));
    expect((await bucketNames()).filter((b) => b === bucket)).toHaveLength(1);
    await open({ bucket }).ensureReady();
  });

  describe('when another process creates the bucket between our check and our create', () => {
    // A proxy in front of s3rver answers the bucket check "missing" although the bucket exists,
    // which is exactly what a process that lost the race saw.
    async function racedStore(bucket: string, answers: { head: number[]; create?: string }) {
      await raw.send(new CreateBucketCommand({ Bucket: bucket }));
      const heads = [...answers.head];
      const proxy = await startProxy((req) => {
        if (req.method === 'HEAD' && req.url === `/${bucket}/` && heads.length)
          return { status: heads.shift()! };
        if (req.method === 'PUT' && req.url === `/${bucket}/` && answers.create) {
          return { status: 409, body: s3ErrorXml(answers.create) };
        }
        return undefined;
      });
      return { store: open({ bucket, endpoint: proxy.endpoint }), proxy };
    }

    it('accepts BucketAlreadyExists when the bucket turns out to be usable (s3rver, AWS us-east-1)', async () => {
      const { store, proxy } = await racedStore(`vitte-${randomUUID().slice(0, 8)}`, { head: [404] });
      try {
        await store.ensureReady();
        expect(proxy.seen).toEqual(['HEAD 404', 'PUT 409', 'HEAD 200']);
      } finally {
        await proxy.close();
      }
    });

    it("accepts MinIO's BucketAlreadyOwnedByYou", async () => {
      const bucket = `vitte-${randomUUID().slice(0, 8)}`;
      const { store, proxy } = await racedStore(bucket, { head: [404], create: 'BucketAlreadyOwnedByYou' });
      try {
        await store.ensureReady();
        expect(proxy.seen).toEqual(['HEAD 404', 'PUT 409']);
      } finally {
        await proxy.close();
      }
    });

    it('refuses a bucket name taken by another account', async () => {
      const bucket = `vitte-${randomUUID().slice(0, 8)}`;
      const { store, proxy } = await racedStore(bucket, { head: [404, 404] });
      try {
        await expect(store.ensureReady()).rejects.toThrow(
          `storage ensure_ready failed: bucket "${bucket}" exists and belongs to another account`,
        );
      } finally {
        await proxy.close();
      }
    });
  });

  it('stores real S3 objects: other clients read what it wrote and it reads what they wrote', async () => {
    const bucket = `vitte-${randomUUID().slice(0, 8)}`;
    const store = open({ bucket });
    await store.ensureReady();
    await store.put('images/u1/a.png', Buffer.from('from vitte'), { contentType: 'image/png' });
    const got = await raw.send(new GetObjectCommand({ Bucket: bucket, Key: 'images/u1/a.png' }));
    expect(got.ContentType).toBe('image/png');
    expect(await got.Body!.transformToString()).toBe('from vitte');

    await raw.send(
      new PutObjectCommand({
        Bucket: bucket,
        Key: 'images/u1/b.webp',
        Body: 'from outside',
        ContentType: 'image/webp',
      }),
    );
    expect(await store.get('images/u1/b.webp')).toMatchObject({ contentType: 'image/webp', size: 12 });
  });

  it('signs links for the public endpoint when one is set', async () => {
    const publicEndpoint = endpoint.replace('127.0.0.1', 'localhost');
    const store = open({ publicEndpoint });
    await store.ensureReady();
    await store.put('p.png', Buffer.from('public'), { contentType: 'image/png' });
    const link = new URL(await store.signedUrl('p.png', { expiresInS: 900 }));
    expect(link.origin).toBe(publicEndpoint);
    expect(link.searchParams.get('X-Amz-Expires')).toBe('900');
    expect(link.searchParams.get('X-Amz-Algorithm')).toBe('AWS4-HMAC-SHA256');
    const res = await fetch(link);
    expect(res.status).toBe(200);
    expect(await res.text()).toBe('public');
  });

  it('a link whose credential was swapped is refused', async () => {
    const store = open();
    await store.ensureReady();
    await store.put('p.png', Buffer.from('x'), { contentType: 'image/png' });
    const link = new URL(await store.signedUrl('p.png', { expiresInS: 60 }));
    link.searchParams.set(
      'X-Amz-Credential',
      link.searchParams.get('X-Amz-Credential')!.replace('S3RVER', 'INTRUDER'),
    );
    const res = await fetch(link);
    expect(res.status).toBe(403);
    expect(await res.text()).toContain('InvalidAccessKeyId');
  });

  it('tells a missing bucket from a missing key, and says why ping fails', async () => {
    const store = open();
    const err = await store.get('images/x.png').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ObjectStoreError);
    expect(err).not.toBeInstanceOf(ObjectNotFoundError);
    expect((err as Error).message).toMatch(
      /^storage get of "images\/x\.png" failed: NoSuchBucket \(HTTP 404\)/,
    );
    await expect(store.ping()).rejects.toThrow(
      /storage ping failed: bucket "vitte-[0-9a-f]+" does not exist/,
    );
  });

  it('maps refused credentials and unreachable servers to ObjectStoreError after the SDK retries', async () => {
    const denied = open({ accessKeyId: 'INTRUDER' });
    await expect(denied.put('a.png', Buffer.from('x'), { contentType: 'image/png' })).rejects.toThrow(
      /storage put of "a\.png" failed: InvalidAccessKeyId \(HTTP 403\)/,
    );
    await expect(denied.ensureReady()).rejects.toThrow(/storage ensure_ready failed: .*HTTP 403/);

    const down = open({ endpoint: 'http://127.0.0.1:1', maxAttempts: 2 });
    const err = await down.head('a.png').catch((e: unknown) => e);
    expect(err).toMatchObject({ name: 'ObjectStoreError', op: 'head', key: 'a.png' });
    expect((err as Error).message).toMatch(/ECONNREFUSED/);
    expect((err as { cause: { $metadata?: { attempts?: number } } }).cause.$metadata?.attempts).toBe(2);
  });

  it('gives up on a server that accepts the connection and never answers', async () => {
    const sockets = new Set<Socket>();
    const silentServer: Server = createServer((s) => sockets.add(s));
    await new Promise<void>((resolve) => silentServer.listen(0, '127.0.0.1', resolve));
    try {
      const port = (silentServer.address() as AddressInfo).port;
      const store = open({ endpoint: `http://127.0.0.1:${port}`, requestTimeoutMs: 300, maxAttempts: 2 });
      const err = await store.get('a.png').catch((e: unknown) => e);
      expect(err).toBeInstanceOf(ObjectStoreError);
      expect((err as Error).message).toMatch(/^storage get of "a\.png" failed: TimeoutError/);
      expect(sockets.size).toBe(2);
    } finally {
      for (const s of sockets) s.destroy();
      await new Promise((resolve) => silentServer.close(resolve));
    }
  });

  it('refuses a malformed bucket name or missing credentials at construction', () => {
    for (const bucket of ['', 'ab', 'Upper', 'under_score', '-dash', `${'a'.repeat(64)}`]) {
      expect(() => new S3ObjectStore(options({ bucket }))).toThrow(/invalid S3 bucket name/);
    }
    expect(() => new S3ObjectStore(options({ secretAccessKey: '' }))).toThrow(/credentials are required/);
  });
});
