import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runClosedLoop, webhookPoster } from './load-generator.js';
import { benchUser, createUpdateFactory } from './telegram-updates.js';

describe('closed-loop load generator', () => {
  const seen: { secret: unknown; update: { update_id: number; message: { from: { id: number } } } }[] = [];
  let inFlight = 0;
  let maxInFlight = 0;
  let url = '';
  const server = createServer(async (req: IncomingMessage, res) => {
    if (req.url === '/chunked') {
      req.resume();
      res.writeHead(200, { 'transfer-encoding': 'chunked' }).end('{}');
      return;
    }
    inFlight += 1;
    maxInFlight = Math.max(maxInFlight, inFlight);
    let body = '';
    for await (const chunk of req) body += chunk;
    const n = seen.push({ secret: req.headers['x-telegram-bot-api-secret-token'], update: JSON.parse(body) });
    setTimeout(() => {
      inFlight -= 1;
      res.writeHead(n === 5 ? 500 : 200, { 'content-length': 0 }).end();
    }, 1);
  });
  beforeAll(async () => {
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`;
  });
  afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

  it('keeps at most one request per user in flight, with unique update ids and the secret', async () => {
    const poster = webhookPoster({ url, secret: 's3cret-s3cret-s3cret' });
    const updates = createUpdateFactory();
    const result = await runClosedLoop({
      users: 4,
      warmupMs: 50,
      durationMs: 300,
      iteration: async (u) => ({ latency: await poster.post(updates.message(benchUser(u), '/status')) }),
    });
    poster.close();
    expect(maxInFlight).toBeLessThanOrEqual(4);
    expect(new Set(seen.map((s) => s.update.update_id)).size).toBe(seen.length);
    expect(new Set(seen.map((s) => s.update.message.from.id)).size).toBe(4);
    expect(seen.every((s) => s.secret === 's3cret-s3cret-s3cret')).toBe(true);
    // The fifth answer is a 500: an error, not a completed iteration.
    expect(seen.length).toBeGreaterThan(5);
    expect(result.errors).toBe(1);
    expect(result.firstError).toBe('webhook answered 500');
    expect(result.finished + result.errors).toBeLessThanOrEqual(seen.length);
    expect(result.latencies.latency?.count).toBe(result.completed);
    expect(result.completed).toBeLessThanOrEqual(result.finished);
  });

  it('refuses an answer it cannot delimit, saying why', async () => {
    const poster = webhookPoster({ url: url.replace('/hook', '/chunked'), secret: 's3cret-s3cret-s3cret' });
    await expect(poster.post({ update_id: 1 })).rejects.toThrow(/without content-length/);
    poster.close();
  });
});
