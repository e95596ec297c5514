import { randomBytes, randomUUID } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import type { FastifyInstance } from 'fastify';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { ValidationError } from '../../src/platform/errors.js';
import { createHttpServer } from '../../src/platform/http.js';
import { createLogger } from '../../src/platform/logger.js';
import { Metrics } from '../../src/platform/metrics.js';
import {
  createObjectStore,
  ObjectKeyError,
  ObjectNotFoundError,
  type ObjectStore,
  ObjectStoreError,
  type ObjectStoreOptions,
  signedObjectRoutes,
} from '../../src/platform/storage/index.js';
import { type RunningS3rver, startS3rver } from '../helpers/s3rver.js';

/**
 * One body of behaviour run against both adapters, so the local store (embedded mode) and the S3
 * store (MinIO in production) cannot drift apart. Everything goes over the real wire: s3rver
 * over HTTP for S3, the admin route on a listening Fastify for local links.
 */

const SIGNING_SECRET = 'local-object-link-secret-0123456789abcdef';
// s3rver checks the access key id only, so the secret can be one no other value contains.
const S3_SECRET = 's3-secret-that-never-reaches-a-log';
const PREFIX = '/admin/objects';

interface Harness {
  /** Options of a fresh store: its own directory or bucket, not yet created. */
  options(overrides?: { now?: () => number }): ObjectStoreOptions;
  /** Options of a store whose backend cannot work (a file where its directory should be; a closed port). */
  brokenOptions(): ObjectStoreOptions;
  /** Told of every store a test opens. */
  opened(store: ObjectStore): void;
  /** Makes a signed link absolute for a plain fetch. */
  absolute(link: string): string;
  /** A credential that must never reach a log line. */
  secret: string;
}

interface Backend {
  start(): Promise<Harness>;
  stop(): Promise<void>;
}

function localBackend(): Backend {
  let root = '';
  let server: FastifyInstance | undefined;
  let serving: ObjectStore | undefined;
  return {
    async start() {
      root = await mkdtemp(path.join(os.tmpdir(), 'vitte-storage-local-'));
      const logger = createLogger({ level: 'silent', pretty: false });
      server = createHttpServer({
        logger,
        metrics: new Metrics({ defaultMetrics: false }),
        trustProxy: false,
      });
      // Each test has a store on its own directory; the route serves whichever was opened last.
      const store = { get: (key: string) => serving!.get(key) };
      server.register(signedObjectRoutes({ store, secret: SIGNING_SECRET, prefix: PREFIX, logger }));
      await server.listen({ port: 0, host: '127.0.0.1' });
      const base = `http://127.0.0.1:${(server.server.address() as AddressInfo).port}`;
      const local = (dir: string): ObjectStoreOptions => ({
        kind: 'local',
        dir,
        signingSecret: SIGNING_SECRET,
        urlPrefix: PREFIX,
      });
      return {
        options: (overrides = {}) => ({ ...local(path.join(root, randomUUID())), ...overrides }),
        brokenOptions: () => {
          const blocker = path.join(root, `file-${randomUUID()}`);
          writeFileSync(blocker, 'a file where the store wants a directory');
          return local(path.join(blocker, 'objects'));
        },
        opened: (s) => {
          serving = s;
        },
        absolute: (link) => new URL(link, base).href,
        secret: SIGNING_SECRET,
      };
    },
    async stop() {
      await server?.close();
      await rm(root, { recursive: true, force: true });
    },
  };
}

function s3Backend(): Backend {
  let s3rver: RunningS3rver | undefined;
  return {
    async start() {
      s3rver = await startS3rver();
      const { endpoint } = s3rver;
      const s3 = (endpoint: string, overrides: { now?: () => number } = {}): ObjectStoreOptions => ({
        kind: 's3',
        endpoint,
        region: 'us-east-1',
        bucket: `vitte-${randomUUID().slice(0, 8)}`,
        accessKeyId: 'S3RVER',
        secretAccessKey: S3_SECRET,
        forcePathStyle: true,
        ...overrides,
      });
      return {
        options: (overrides) => s3(endpoint, overrides),
        // Port 1 refuses connections at once; two attempts keep the SDK's retry short.
        brokenOptions: () => ({ ...s3('http://127.0.0.1:1'), maxAttempts: 2 }) as ObjectStoreOptions,
        opened: () => {},
        absolute: (link) => link,
        secret: S3_SECRET,
      };
    },
    async stop() {
      await s3rver?.close();
    },
  };
}

async function metricValue(metrics: Metrics, name: string, labels: Record<string, string>): Promise<number> {
  const metric = metrics.registry.getSingleMetric(name);
  if (!metric) return 0;
  const data = await metric.get();
  const found = data.values.find((v) => Object.entries(labels).every(([k, val]) => v.labels[k] === val));
  return found?.value ?? 0;
}

const BAD_KEYS: [string, RegExp][] = [
  ['', /non-empty/],
  ['../secret', /"\." or "\.\."/],
  ['images/../../etc/passwd', /"\." or "\.\."/],
  ['a/./b', /"\." or "\.\."/],
  ['/etc/passwd', /relative path/],
  ['C:/windows', /relative path/],
  ['a\\..\\b', /relative path/],
  ['a\0b', /NUL/],
  ['a//b', /empty segments/],
  ['a/', /empty segments/],
  ['.hidden', /start with "\."/],
  ['a/.meta', /start with "\."/],
  ['a b', /only letters/],
  ['ключ.png', /only letters/],
  ['a?b', /only letters/],
  ['a%2Fb', /only letters/],
  ['x'.repeat(513), /longer than 512/],
  [`a/${'x'.repeat(201)}/b`, /longer than 200/],
];

function contract(name: string, makeBackend: () => Backend): void {
  describe(`object store contract: ${name}`, () => {
    const backend = makeBackend();
    let harness: Harness;
    let metrics: Metrics;
    let logLines: string[];
    const opened: ObjectStore[] = [];

    beforeAll(async () => {
      harness = await backend.start();
    });
    afterAll(() => backend.stop());

    beforeEach(() => {
      metrics = new Metrics({ defaultMetrics: false });
      logLines = [];
    });
    afterEach(async () => {
      await Promise.all(opened.splice(0).map((s) => s.close()));
    });

    function open(options: ObjectStoreOptions): ObjectStore {
      const logger = createLogger({
        level: 'debug',
        pretty: false,
        destination: { write: (line: string) => void logLines.push(line) },
      });
      const store = createObjectStore(options, { logger, metrics });
      opened.push(store);
      harness.opened(store);
      return store;
    }

    async function ready(overrides: { now?: () => number } = {}): Promise<ObjectStore> {
      const store = open(harness.options(overrides));
      await store.ensureReady();
      return store;
    }

    it('creates its directory or bucket on ensureReady, idempotently, and only then answers ping', async () => {
      const store = open(harness.options());
      await expect(store.ping()).rejects.toThrow(ObjectStoreError);
      await Promise.all([store.ensureReady(), store.ensureReady()]);
      await store.ensureReady();
      await expect(store.ping()).resolves.toBeUndefined();
      expect(
        await metricValue(metrics, 'vitte_storage_operations_total', { op: 'ping', result: 'error' }),
      ).toBe(1);
      expect(await metricValue(metrics, 'vitte_storage_operations_total', { op: 'ping', result: 'ok' })).toBe(
        1,
      );
    });

    it('round-trips bytes and content type; head sees them; an overwrite replaces the whole object', async () => {
      const store = await ready();
      const bytes = randomBytes(70_000);
      await store.put('images/2025/06/pic.png', bytes, { contentType: 'image/png' });
      const got = await store.get('images/2025/06/pic.png');
      expect(Buffer.compare(got.bytes, bytes)).toBe(0);
      expect(got).toMatchObject({ size: 70_000, contentType: 'image/png' });
      expect(got.lastModified).toBeInstanceOf(Date);
      expect(await store.head('images/2025/06/pic.png')).toMatchObject({
        size: 70_000,
        contentType: 'image/png',
      });

      await store.put('images/2025/06/pic.png', Buffer.from('{"v":2}'), {
        contentType: 'application/json; charset=utf-8',
      });
      const replaced = await store.get('images/2025/06/pic.png');
      expect(replaced.bytes.toString()).toBe('{"v":2}');
      expect(replaced).toMatchObject({ size: 7, contentType: 'application/json; charset=utf-8' });
      expect(await metricValue(metrics, 'vitte_storage_operations_total', { op: 'put', result: 'ok' })).toBe(
        2,
      );
      expect(await metrics.text()).toContain(
        `vitte_storage_operation_duration_seconds_count{backend="${name}",op="get"} 2`,
      );
    });

    it('answers a missing key with ObjectNotFoundError naming the key, and head with null', async () => {
      const store = await ready();
      const err = await store.get('images/missing.png').catch((e: unknown) => e);
      expect(err).toBeInstanceOf(ObjectNotFoundError);
      expect(err).toMatchObject({ op: 'get', key: 'images/missing.png' });
      expect((err as Error).message).toBe('storage get of "images/missing.png" failed: no such object');
      expect(await store.head('images/missing.png')).toBeNull();
      expect(
        await metricValue(metrics, 'vitte_storage_operations_total', { op: 'get', result: 'not_found' }),
      ).toBe(1);
      expect(
        await metricValue(metrics, 'vitte_storage_operations_total', { op: 'head', result: 'not_found' }),
      ).toBe(1);
      expect(logLines.filter((l) => l.includes('"level":50'))).toEqual([]);
    });

    it('deletes, and deleting again or deleting what never existed is not an error', async () => {
      const store = await ready();
      await store.put('a/b/c.txt', Buffer.from('x'), { contentType: 'text/plain' });
      await store.delete('a/b/c.txt');
      expect(await store.head('a/b/c.txt')).toBeNull();
      await expect(store.get('a/b/c.txt')).rejects.toThrow(ObjectNotFoundError);
      await store.delete('a/b/c.txt');
      await store.delete('never/there.png');
      expect(
        await metricValue(metrics, 'vitte_storage_operations_total', { op: 'delete', result: 'ok' }),
      ).toBe(3);
    });

    it('refuses invalid keys on every operation with an error naming the rule, writing nothing', async () => {
      const store = await ready();
      const ops: [string, (key: string) => Promise<unknown>][] = [
        ['put', (k) => store.put(k, Buffer.from('x'), { contentType: 'text/plain' })],
        ['get', (k) => store.get(k)],
        ['head', (k) => store.head(k)],
        ['delete', (k) => store.delete(k)],
        ['signedUrl', (k) => store.signedUrl(k, { expiresInS: 60 })],
      ];
      for (const [key, rule] of BAD_KEYS) {
        for (const [op, call] of ops) {
          const err = await call(key).then(
            () => new Error(`${op} accepted ${JSON.stringify(key)}`),
            (e: unknown) => e,
          );
          expect(err, `${op} ${JSON.stringify(key)}`).toBeInstanceOf(ObjectKeyError);
          expect((err as Error).message).toMatch(rule);
        }
      }
      await expect(store.get(42 as unknown as string)).rejects.toThrow(/must be a non-empty string/);
      expect(await store.head('secret')).toBeNull();
      expect(await store.head('etc/passwd')).toBeNull();
      const longest = `${'a'.repeat(200)}/${'b'.repeat(200)}/${'c'.repeat(110)}`;
      expect(longest).toHaveLength(512);
      await store.put(longest, Buffer.from('long'), { contentType: 'text/plain' });
      expect((await store.get(longest)).bytes.toString()).toBe('long');
      expect(
        await metricValue(metrics, 'vitte_storage_operations_total', { op: 'put', result: 'invalid' }),
      ).toBe(BAD_KEYS.length);
    });

    it('refuses a bad content type or link lifetime', async () => {
      const store = await ready();
      for (const contentType of [
        '',
        'png',
        'image/png\r\nx-evil: 1',
        'a/b; c',
        'image/png;x=1'.padEnd(300, 'y'),
      ]) {
        await expect(store.put('k.png', Buffer.from('x'), { contentType })).rejects.toThrow(
          /invalid content type/,
        );
      }
      for (const expiresInS of [0, -1, 1.5, 7 * 24 * 3600 + 1, Number.NaN]) {
        const err = await store.signedUrl('k.png', { expiresInS }).catch((e: unknown) => e);
        expect(err).toBeInstanceOf(ValidationError);
        expect((err as Error).message).toMatch(/invalid link lifetime/);
      }
      expect(await store.head('k.png')).toBeNull();
    });

    it('signs a link that a plain fetch downloads with its content type', async () => {
      const store = await ready();
      const bytes = randomBytes(5_000);
      await store.put('images/u1/signed.png', bytes, { contentType: 'image/png' });
      const link = await store.signedUrl('images/u1/signed.png', { expiresInS: 300 });
      const res = await fetch(harness.absolute(link));
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toBe('image/png');
      expect(Buffer.compare(Buffer.from(await res.arrayBuffer()), bytes)).toBe(0);
    });

    it('refuses an expired link with 403', async () => {
      const signedEarlier = Date.now() - 10 * 60_000;
      const store = await ready({ now: () => signedEarlier });
      await store.put('images/old.png', Buffer.from('old'), { contentType: 'image/png' });
      const link = await store.signedUrl('images/old.png', { expiresInS: 60 });
      const res = await fetch(harness.absolute(link));
      expect(res.status).toBe(403);
      expect(await res.text()).toMatch(/expired/i);
    });

    it('wraps backend failures in ObjectStoreError, counts and logs them with op and key, never the secret', async () => {
      const store = open(harness.brokenOptions());
      await expect(store.ensureReady()).rejects.toThrow(ObjectStoreError);
      const err = await store
        .put('images/u2/x.png', Buffer.from('x'), { contentType: 'image/png' })
        .catch((e) => e);
      expect(err).toBeInstanceOf(ObjectStoreError);
      expect(err).not.toBeInstanceOf(ObjectNotFoundError);
      expect(err).toMatchObject({ op: 'put', key: 'images/u2/x.png' });
      expect((err as Error).message).toMatch(/^storage put of "images\/u2\/x\.png" failed: .+/);
      expect((err as Error).cause).toBeDefined();
      expect(
        await metricValue(metrics, 'vitte_storage_operations_total', { op: 'put', result: 'error' }),
      ).toBe(1);
      const failures = logLines.map((l) => JSON.parse(l)).filter((l) => l.msg === 'storage operation failed');
      expect(failures.map((l) => [l.op, l.key, l.component, l.backend])).toEqual([
        ['ensure_ready', undefined, 'storage', name],
        ['put', 'images/u2/x.png', 'storage', name],
      ]);
      expect(logLines.join('\n')).not.toContain(harness.secret);
    });
  });
}

contract('local', localBackend);
contract('s3', s3Backend);
