import { mkdir, mkdtemp, readdir, readFile, rm, symlink, utimes, writeFile } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import type { FastifyInstance } from 'fastify';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createHttpServer } from '../../src/platform/http.js';
import { createLogger } from '../../src/platform/logger.js';
import { Metrics } from '../../src/platform/metrics.js';
import {
  createObjectStore,
  LocalObjectStore,
  ObjectNotFoundError,
  type ObjectStore,
  ObjectStoreError,
  signedObjectRoutes,
  verifySignedObjectUrl,
} from '../../src/platform/storage/index.js';
import { signObjectUrl } from '../../src/platform/storage/signed-object-url.js';

const SECRET = 'local-object-link-secret-0123456789abcdef';
const PREFIX = '/admin/objects';

let root: string;
let dir: string;
let store: ObjectStore;
const metrics = new Metrics({ defaultMetrics: false });
const silent = createLogger({ level: 'silent', pretty: false });

function makeStore(now?: () => number): ObjectStore {
  return createObjectStore(
    { kind: 'local', dir, signingSecret: SECRET, urlPrefix: PREFIX, ...(now ? { now } : {}) },
    { logger: silent, metrics },
  );
}

beforeAll(async () => {
  root = await mkdtemp(path.join(os.tmpdir(), 'vitte-storage-local-'));
});
afterAll(() => rm(root, { recursive: true, force: true }));

beforeEach(async () => {
  dir = await mkdtemp(path.join(root, 'objects-'));
  store = makeStore();
  await store.ensureReady();
});

describe('local object store on disk', () => {
  it('keeps objects as plain files with the content type beside them', async () => {
    await store.put('images/u1/a.png', Buffer.from('PNG bytes'), { contentType: 'image/png' });
    expect(await readFile(path.join(dir, 'data/images/u1/a.png'), 'utf8')).toBe('PNG bytes');
    expect(JSON.parse(await readFile(path.join(dir, 'meta/images/u1/a.png.json'), 'utf8'))).toEqual({
      contentType: 'image/png',
    });
    expect(await readdir(path.join(dir, 'tmp'))).toEqual([]);
    // A file copied in by hand has no metadata and is served as opaque bytes.
    await writeFile(path.join(dir, 'data/images/u1/hand.bin'), 'by hand');
    expect(await store.get('images/u1/hand.bin')).toMatchObject({
      contentType: 'application/octet-stream',
      size: 7,
    });
  });

  it('never lets a reader see a half-written object while it is overwritten', async () => {
    const size = 2 * 1024 * 1024;
    const versions = [Buffer.alloc(size, 0x41), Buffer.alloc(size, 0x42)];
    await store.put('big.bin', versions[0]!, { contentType: 'application/octet-stream' });
    let writing = true;
    const writer = (async () => {
      for (let i = 1; i <= 8; i++) {
        await store.put('big.bin', versions[i % 2]!, { contentType: 'application/octet-stream' });
      }
      writing = false;
    })();
    const seen = new Set<string>();
    let reads = 0;
    const readers = [1, 2].map(async () => {
      while (writing) {
        const { bytes, size: reported } = await store.get('big.bin');
        reads++;
        const first = bytes[0]!;
        const whole = bytes.length === size && reported === size && bytes.every((b) => b === first);
        seen.add(whole ? String.fromCharCode(first) : `torn: ${bytes.length} bytes`);
      }
    });
    await Promise.all([writer, ...readers]);
    expect(reads).toBeGreaterThan(0);
    expect([...seen].filter((s) => s.startsWith('torn'))).toEqual([]);
    expect(await readdir(path.join(dir, 'tmp'))).toEqual([]);
  });

  it('a failed write leaves the previous objects whole and no temp files behind', async () => {
    await store.put('a', Buffer.from('object a'), { contentType: 'text/plain' });
    await store.put('b/c', Buffer.from('object b/c'), { contentType: 'text/plain' });
    for (const key of ['a/x', 'b']) {
      const err = await store
        .put(key, Buffer.from('new'), { contentType: 'text/plain' })
        .catch((e: unknown) => e);
      expect(err).toBeInstanceOf(ObjectStoreError);
      expect(err).toMatchObject({ op: 'put', key });
      expect((err as Error).message).toMatch(/folder/);
    }
    expect((await store.get('a')).bytes.toString()).toBe('object a');
    expect((await store.get('b/c')).bytes.toString()).toBe('object b/c');
    expect(await store.head('a/x')).toBeNull();
    expect(await store.head('b')).toBeNull();
    expect(await readdir(path.join(dir, 'tmp'))).toEqual([]);
  });

  it('ensureReady clears temp files left by a crashed write, but not the ones being written', async () => {
    const stale = path.join(dir, 'tmp', 'stale-write');
    const fresh = path.join(dir, 'tmp', 'fresh-write');
    await writeFile(stale, 'partial');
    await writeFile(fresh, 'partial');
    const twoHoursAgo = new Date(Date.now() - 2 * 3_600_000);
    await utimes(stale, twoHoursAgo, twoHoursAgo);
    await makeStore().ensureReady();
    expect(await readdir(path.join(dir, 'tmp'))).toEqual(['fresh-write']);
  });

  it('does not follow a symlink planted in its tree', async () => {
    const outside = path.join(root, 'outside-secret.txt');
    await writeFile(outside, 'not yours');
    await mkdir(path.join(dir, 'data/images'), { recursive: true });
    await symlink(outside, path.join(dir, 'data/images/link.png'));
    await expect(store.get('images/link.png')).rejects.toThrow(ObjectNotFoundError);
    expect(await store.head('images/link.png')).toBeNull();
  });

  it('refuses a short signing secret or a malformed link prefix', () => {
    const make = (signingSecret: string, urlPrefix: string) =>
      new LocalObjectStore({ dir, signingSecret, urlPrefix });
    expect(() => make('too-short', PREFIX)).toThrow(/at least 32 characters/);
    for (const prefix of ['admin/objects', '/admin/objects/', '/admin objects', '', '/a?b']) {
      expect(() => make(SECRET, prefix)).toThrow(/prefix/);
    }
    expect(() => signedObjectRoutes({ store, secret: 'short', prefix: PREFIX, logger: silent })).toThrow(
      /32/,
    );
  });
});

describe('signed object links', () => {
  const key = 'images/u1/photo.png';
  const exp = String(Math.floor(Date.now() / 1000) + 600);
  const link = signObjectUrl({ prefix: PREFIX, key, expiresAt: Number(exp), secret: SECRET });
  const sig = new URL(link, 'http://x').searchParams.get('sig')!;

  it('verifies its own signature and refuses every alteration', () => {
    expect(link).toBe(`${PREFIX}/${key}?exp=${exp}&sig=${sig}`);
    expect(sig).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(verifySignedObjectUrl({ key, exp, sig }, SECRET)).toEqual({ ok: true, expiresAt: Number(exp) });
    const invalid = { ok: false, reason: 'invalid' };
    for (let i = 0; i < sig.length; i++) {
      const flipped = sig.slice(0, i) + (sig[i] === 'A' ? 'B' : 'A') + sig.slice(i + 1);
      expect(verifySignedObjectUrl({ key, exp, sig: flipped }, SECRET), `char ${i}`).toEqual(invalid);
    }
    expect(verifySignedObjectUrl({ key: 'images/u1/other.png', exp, sig }, SECRET)).toEqual(invalid);
    expect(verifySignedObjectUrl({ key, exp: String(Number(exp) + 1), sig }, SECRET)).toEqual(invalid);
    expect(verifySignedObjectUrl({ key, exp, sig }, `${SECRET}x`)).toEqual(invalid);
    expect(verifySignedObjectUrl({ key, exp, sig: `${sig}A` }, SECRET)).toEqual(invalid);
    for (const badExp of ['', '-1', '1e12', '12.5', ' 1', undefined, ['1'], 1]) {
      expect(verifySignedObjectUrl({ key, exp: badExp, sig }, SECRET)).toEqual(invalid);
    }
    expect(verifySignedObjectUrl({ key, exp, sig: [sig] }, SECRET)).toEqual(invalid);
    expect(verifySignedObjectUrl({ key, exp, sig }, SECRET, Number(exp) * 1000)).toEqual({
      ok: false,
      reason: 'expired',
    });
  });
});

describe('the signed object route over HTTP', () => {
  let server: FastifyInstance;
  let base: string;
  let logLines: Record<string, unknown>[];

  beforeEach(async () => {
    logLines = [];
    const logger = createLogger({
      level: 'debug',
      pretty: false,
      destination: { write: (line: string) => void logLines.push(JSON.parse(line)) },
    });
    server = createHttpServer({
      logger: silent,
      metrics: new Metrics({ defaultMetrics: false }),
      trustProxy: false,
    });
    server.register(signedObjectRoutes({ store, secret: SECRET, prefix: PREFIX, logger }));
    await server.listen({ port: 0, host: '127.0.0.1' });
    base = `http://127.0.0.1:${(server.server.address() as AddressInfo).port}`;
  });
  afterEach(() => server.close());

  const get = (link: string, init?: RequestInit) => fetch(new URL(link, base), init);

  it('serves the object with its type, a private cache lifetime and a sandbox', async () => {
    const png = Buffer.from('\x89PNG\r\n\x1a\n fake image', 'latin1');
    await store.put('images/u1/photo.png', png, { contentType: 'image/png' });
    const link = await store.signedUrl('images/u1/photo.png', { expiresInS: 600 });
    const res = await get(link);
    expect(res.status).toBe(200);
    expect(Buffer.from(await res.arrayBuffer()).equals(png)).toBe(true);
    expect(res.headers.get('content-type')).toBe('image/png');
    expect(res.headers.get('content-length')).toBe(String(png.length));
    expect(res.headers.get('cache-control')).toMatch(/^private, max-age=(59\d|600)$/);
    expect(res.headers.get('x-content-type-options')).toBe('nosniff');
    expect(res.headers.get('content-security-policy')).toContain('sandbox');
    const head = await get(link, { method: 'HEAD' });
    expect(head.status).toBe(200);
    expect(head.headers.get('content-type')).toBe('image/png');
  });

  it('answers 403 to a tampered, foreign, unsigned or expired link and 404 to a missing object', async () => {
    await store.put('images/u1/a.png', Buffer.from('a'), { contentType: 'image/png' });
    await store.put('images/u1/b.png', Buffer.from('b'), { contentType: 'image/png' });
    const link = await store.signedUrl('images/u1/a.png', { expiresInS: 600 });
    const url = new URL(link, base);
    const sig = url.searchParams.get('sig')!;

    const tampered = new URL(url);
    tampered.searchParams.set('sig', (sig[0] === 'A' ? 'B' : 'A') + sig.slice(1));
    const otherKey = new URL(url);
    otherKey.pathname = `${PREFIX}/images/u1/b.png`;
    const longer = new URL(url);
    longer.searchParams.set('exp', String(Number(url.searchParams.get('exp')) + 3600));
    const doubled = `${link}&sig=${sig}`;
    const expired = await makeStore(() => Date.now() - 3_600_000).signedUrl('images/u1/a.png', {
      expiresInS: 60,
    });

    for (const [what, bad] of [
      ['tampered', tampered.href],
      ['other key', otherKey.href],
      ['longer', longer.href],
      ['doubled', doubled],
      ['unsigned', `${PREFIX}/images/u1/a.png`],
    ] as const) {
      const res = await get(bad);
      expect(res.status, what).toBe(403);
      expect(await res.json(), what).toMatchObject({ error: { message: 'invalid link signature' } });
    }
    const late = await get(expired);
    expect(late.status).toBe(403);
    expect(await late.json()).toMatchObject({
      error: { code: 'forbidden', message: 'this link has expired' },
    });

    const missing = await get(await store.signedUrl('images/u1/gone.png', { expiresInS: 600 }));
    expect(missing.status).toBe(404);
    expect((await get(link)).status).toBe(200);

    const refused = logLines.filter((l) => l.msg === 'object link refused');
    expect(refused.map((l) => l.reason)).toEqual([
      'invalid',
      'invalid',
      'invalid',
      'invalid',
      'invalid',
      'expired',
    ]);
    expect(refused[0]).toMatchObject({ key: 'images/u1/a.png', component: 'storage' });
  });

  it('never serves outside its directory, even for a traversal key signed with the real secret', async () => {
    await writeFile(path.join(root, 'outside.txt'), 'outside the store');
    const relative = path.relative(path.join(dir, 'data'), path.join(root, 'outside.txt'));
    const key = relative.split(path.sep).join('/');
    const expiresAt = Math.floor(Date.now() / 1000) + 600;
    const forged = signObjectUrl({ prefix: PREFIX, key: encodeURIComponent(key), expiresAt, secret: SECRET });
    // The route checks the decoded key, so sign that one and keep the encoded path.
    const signed = new URL(signObjectUrl({ prefix: PREFIX, key, expiresAt, secret: SECRET }), base);
    const url = new URL(forged, base);
    url.search = signed.search;
    expect(url.pathname).toContain('..%2F');
    const res = await get(url.href);
    expect(res.status).toBe(400);
    const text = await res.text();
    expect(text).toMatch(/invalid object key/);
    expect(text).not.toContain('outside the store');
  });
});
