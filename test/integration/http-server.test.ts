import { request } from 'node:http';
import { describe, expect, it } from 'vitest';
import { createHttpServer, type HttpServerOptions } from '../../src/platform/http.js';
import { Metrics } from '../../src/platform/metrics.js';
import { silentLogger } from '../helpers/db.js';

function server(opts: Partial<HttpServerOptions> = {}) {
  const f = createHttpServer({
    logger: silentLogger,
    metrics: new Metrics({ defaultMetrics: false }),
    trustProxy: false,
    ...opts,
  });
  f.get('/page', async (_req, reply) => reply.type('text/html').send('<p>hi</p>'));
  return f;
}

async function csp(f: ReturnType<typeof server>, headers: Record<string, string> = {}): Promise<string> {
  const res = await f.inject({ url: '/page', headers });
  return String(res.headers['content-security-policy']);
}

/** `upgrade-insecure-requests` makes a browser fetch every style and script over https://. */
describe('CSP upgrade-insecure-requests only over HTTPS', () => {
  it('plain HTTP (an address in a LAN, no proxy): not sent', async () => {
    const f = server();
    const policy = await csp(f, { host: '192.0.2.2:3000' });
    expect(policy).toContain("default-src 'self'");
    expect(policy).not.toContain('upgrade-insecure-requests');
    await f.close();
  });

  it('through a trusted TLS proxy (X-Forwarded-Proto: https): sent; the same proxy over http: not', async () => {
    const f = server({ trustProxy: true });
    expect(await csp(f, { 'x-forwarded-proto': 'https' })).toContain('upgrade-insecure-requests');
    expect(await csp(f, { 'x-forwarded-proto': 'http' })).not.toContain('upgrade-insecure-requests');
    await f.close();
    // An untrusted client cannot claim https for itself.
    const untrusted = server();
    expect(await csp(untrusted, { 'x-forwarded-proto': 'https' })).not.toContain('upgrade-insecure-requests');
    await untrusted.close();
  });

  it('PUBLIC_URL https: sent for its host, not for the same server reached by IP', async () => {
    const f = server({ publicUrl: 'https://bot.example.com' });
    expect(await csp(f, { host: 'bot.example.com' })).toContain('upgrade-insecure-requests');
    expect(await csp(f, { host: '192.0.2.2:3000' })).not.toContain('upgrade-insecure-requests');
    await f.close();
  });
});

describe('closing a server with long-lived connections', () => {
  it('ends open event streams and idle keep-alive connections at once', async () => {
    const f = server();
    f.get('/events', async (_req, reply) => {
      // As the playground serves its stream: hijacked, written by hand, never ended by itself.
      reply.hijack();
      reply.raw.writeHead(200, { 'content-type': 'text/event-stream' });
      reply.raw.write(': hello\n\n');
    });
    await f.listen({ host: '127.0.0.1', port: 0 });
    const { port } = f.server.address() as { port: number };
    const streamEnded = new Promise<void>((resolve, reject) => {
      request({ host: '127.0.0.1', port, path: '/events' }, (res) => {
        res.on('data', () => {});
        res.on('close', () => resolve());
      })
        .on('error', reject)
        .end();
    });
    // An idle keep-alive connection: a finished request on an agent that keeps the socket.
    const agentRes = await fetch(`http://127.0.0.1:${port}/page`);
    expect(agentRes.status).toBe(200);
    await agentRes.text();
    // Without ending them, close() waits for both until the process gives up (the test's timeout).
    await f.close();
    await streamEnded;
  }, 10_000);
});
