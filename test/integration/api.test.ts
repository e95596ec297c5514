import { once } from 'node:events';
import type { FastifyInstance } from 'fastify';
import parsePrometheus from 'parse-prometheus-text-format';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { registerApi } from '../../src/api/index.js';
import { type App, createApp } from '../../src/app.js';
import { loadConfig } from '../../src/config.js';
import { createHttpServer } from '../../src/platform/http.js';
import { createTestApp, type TestApp } from '../helpers/app.js';
import { silentLogger } from '../helpers/db.js';
import { has } from '../helpers/services.js';

async function server(app: App, trustProxy = false): Promise<FastifyInstance> {
  const f = createHttpServer({ logger: app.logger, metrics: app.metrics, trustProxy });
  await registerApi(f, app);
  await f.ready();
  return f;
}

describe('API role', () => {
  let t: TestApp;
  let f: FastifyInstance;
  beforeAll(async () => {
    t = await createTestApp({ CORS_ORIGINS: 'https://admin.example' }, { label: 'api' });
    f = await server(t.app);
  });
  afterAll(async () => {
    await f?.close();
    await t?.close();
  });

  it('answers liveness and dependency health', async () => {
    expect((await f.inject('/health')).json()).toEqual({ status: 'ok' });
    expect((await f.inject('/health/db')).json()).toEqual({ status: 'ok' });
    expect((await f.inject('/api/v1/health/db')).statusCode).toBe(200);
    const redis = await f.inject('/health/redis');
    expect([redis.statusCode, redis.json()]).toEqual([200, { status: 'not_configured' }]);
    const ready = await f.inject('/health/ready');
    expect(ready.statusCode).toBe(200);
    expect(ready.json().checks.migrations).toEqual({ status: 'ok' });
  });

  it('serves /metrics in Prometheus text format', async () => {
    await f.inject('/health');
    const res = await f.inject('/metrics');
    expect(res.headers['content-type']).toContain('text/plain');
    const families = parsePrometheus(res.body);
    const names = families.map((m) => m.name);
    expect(names).toContain('process_cpu_user_seconds_total');
    expect(names).toContain('vitte_http_request_duration_seconds');
    expect(names).toContain('vitte_build_info');
    const http = families.find((m) => m.name === 'vitte_http_request_duration_seconds')!;
    expect(http.type).toBe('HISTOGRAM');
  });

  it('answers every error in one JSON shape with the request id', async () => {
    const behindProxy = await server(t.app, true);
    const res = await behindProxy.inject({ url: '/nowhere', headers: { 'x-request-id': 'req-12345678' } });
    await behindProxy.close();
    expect(res.statusCode).toBe(404);
    expect(res.headers['x-request-id']).toBe('req-12345678');
    expect(res.json()).toEqual({
      error: { code: 'not_found', message: 'no route for GET /nowhere', requestId: 'req-12345678' },
    });
    // Without a trusted proxy in front, a client's own id is not taken.
    const direct = await f.inject({ url: '/nowhere', headers: { 'x-request-id': 'req-12345678' } });
    expect(direct.headers['x-request-id']).not.toBe('req-12345678');
    expect(direct.json().error.requestId).toBe(direct.headers['x-request-id']);
    const bad = await f.inject({
      method: 'POST',
      url: '/health',
      payload: '{',
      headers: { 'content-type': 'application/json' },
    });
    expect(bad.statusCode).toBe(400);
    expect(bad.json().error).toMatchObject({ code: expect.any(String), message: expect.any(String) });
    expect(bad.json().error.requestId).toBe(bad.headers['x-request-id']);
  });

  it('sets security headers and CORS only for allowed origins', async () => {
    const ok = await f.inject({ url: '/health', headers: { origin: 'https://admin.example' } });
    expect(ok.headers['access-control-allow-origin']).toBe('https://admin.example');
    expect(ok.headers['x-content-type-options']).toBe('nosniff');
    expect(ok.headers['content-security-policy']).toContain("default-src 'self'");
    const other = await f.inject({ url: '/health', headers: { origin: 'https://evil.example' } });
    expect(other.headers['access-control-allow-origin']).toBeUndefined();
  });

  it('publishes OpenAPI JSON and the docs UI', async () => {
    const spec = await f.inject('/api/docs/json');
    expect(spec.statusCode).toBe(200);
    expect(spec.json().paths['/api/v1/health/db']).toBeDefined();
    const ui = await f.inject('/api/docs');
    const page = ui.statusCode === 302 ? await f.inject(String(ui.headers.location)) : ui;
    expect(page.statusCode).toBe(200);
    expect(page.body).toContain('swagger');
  });
});

describe('API role with an unreachable database', () => {
  it('/health/db and /health/ready answer 503 with a reason; /health stays 200', async () => {
    const config = loadConfig({
      DATABASE_URL: 'postgres://postgres@127.0.0.1:1/nothing',
      DB_CONNECT_TIMEOUT_MS: '500',
      LOG_LEVEL: 'silent',
    });
    const app = createApp(config, { logger: silentLogger });
    const f = await server(app);
    try {
      const db = await f.inject('/health/db');
      expect(db.statusCode).toBe(503);
      expect(db.json().status).toBe('error');
      expect(db.json().reason).toMatch(/ECONNREFUSED|connect/);
      expect((await f.inject('/health/ready')).statusCode).toBe(503);
      expect((await f.inject('/health')).statusCode).toBe(200);
    } finally {
      await f.close();
      await app.close();
    }
  });
});

describe.skipIf(!has('redis'))('API role with Redis', () => {
  it('/health/redis answers 200 ok and /health/ready includes it', async () => {
    const t = await createTestApp({}, { label: 'api_redis', redis: true });
    const f = await server(t.app);
    try {
      const redis = t.app.redis!;
      // The client connects in the background; before that the check rightly says it is not ready.
      if (redis.status !== 'ready') await once(redis, 'ready');
      const res = await f.inject('/health/redis');
      expect([res.statusCode, res.json()]).toEqual([200, { status: 'ok' }]);
      const ready = await f.inject('/health/ready');
      expect(ready.statusCode).toBe(200);
      expect(ready.json().checks.redis).toEqual({ status: 'ok' });
    } finally {
      await f.close();
      await t.close();
    }
  });
});

describe('API role with an unreachable Redis', () => {
  it('/health/redis and /health/ready answer 503 with a reason; the database stays ok', async () => {
    const t = await createTestApp({ REDIS_URL: 'redis://127.0.0.1:1' }, { label: 'api_noredis' });
    const f = await server(t.app);
    try {
      let res = await f.inject('/health/redis');
      // The reason names the cause as soon as the first connection attempt has failed.
      for (let i = 0; i < 50 && !res.json().reason.includes('ECONNREFUSED'); i++) {
        await new Promise((r) => setTimeout(r, 100));
        res = await f.inject('/health/redis');
      }
      expect(res.statusCode).toBe(503);
      expect(res.json()).toEqual({
        status: 'error',
        reason: expect.stringMatching(/^connection is \w+: .*ECONNREFUSED/),
      });
      const ready = await f.inject('/health/ready');
      expect(ready.statusCode).toBe(503);
      expect(ready.json().status).toBe('error');
      expect(ready.json().checks.redis.status).toBe('error');
      expect(ready.json().checks.db).toEqual({ status: 'ok' });
      expect((await f.inject('/health')).statusCode).toBe(200);

      // Someone outside (through the proxy) learns that it is down, not where it lives.
      for (const url of ['/health/redis', '/api/v1/health/redis', '/api/v1/health/ready']) {
        const outside = await f.inject({ url, remoteAddress: '203.0.113.7' });
        expect(outside.statusCode, url).toBe(503);
        expect(outside.body, url).not.toContain('127.0.0.1');
        expect(outside.body, url).not.toContain('ECONNREFUSED');
        expect(outside.body, url).toContain('unavailable');
      }
      const lan = await f.inject({ url: '/health/redis', remoteAddress: '10.1.2.3' });
      expect(lan.json().reason).toContain('ECONNREFUSED');
    } finally {
      await f.close();
      await t.close();
    }
  });
});
